// The schema text changecast registers: the author's schema with every attribute kept (doc, defaults,
// logicalType, precision, scale, custom properties) and keys in the order Java's Schema.toString()
// writes them, so the same .avsc always yields the same text whatever its key order.
import { stringifyJson } from "./json.js";

const PRIMITIVES = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);

// Structural keys first (Java's order), then the logical-type attributes, then other props sorted.
const TYPE_KEYS = [
  "type",
  "name",
  "namespace",
  "doc",
  "fields",
  "symbols",
  "default",
  "items",
  "values",
  "size",
];
const FIELD_KEYS = ["name", "type", "doc", "default", "order"];
const LOGICAL_KEYS = ["logicalType", "precision", "scale"];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function ordered(
  source: Record<string, unknown>,
  leading: readonly string[],
  map: (key: string, value: unknown) => unknown,
): Record<string, unknown> {
  const keys = Object.keys(source);
  const fixed = [...leading, ...LOGICAL_KEYS].filter((k) => k in source);
  const rest = keys.filter((k) => !fixed.includes(k) && k !== "aliases").sort();
  const all = [...fixed, ...rest, ...(keys.includes("aliases") ? ["aliases"] : [])];
  const out: Record<string, unknown> = {};
  for (const key of all) {
    Object.defineProperty(out, key, {
      value: map(key, source[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function canonicalField(field: unknown): unknown {
  if (!isObject(field)) return field;
  return ordered(field, FIELD_KEYS, (key, value) => (key === "type" ? canonicalType(value) : value));
}

function canonicalType(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(canonicalType);
  if (!isObject(schema)) return schema;
  const keys = Object.keys(schema);
  // {"type": "string"} is just "string", as Java prints it
  if (keys.length === 1 && typeof schema.type === "string" && PRIMITIVES.has(schema.type)) return schema.type;
  return ordered(schema, TYPE_KEYS, (key, value) => {
    if (key === "fields" && Array.isArray(value)) return value.map(canonicalField);
    if (key === "items" || key === "values" || (key === "type" && typeof value !== "string"))
      return canonicalType(value);
    return value;
  });
}

/** Compact JSON text of the schema with a stable key order. */
export function canonicalSchemaText(schema: unknown): string {
  return stringifyJson(canonicalType(schema));
}
