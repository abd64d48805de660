// Parses Avro schema JSON into a normalised, reference-resolved graph for the compatibility checker.
// avsc validates first (so anything it rejects is an InvalidSchemaError); this module then builds its own
// representation because the checker needs full names, aliases, defaults and logical-type attributes,
// and named-type references resolved to the very same node (recursive schemas become cycles).
import avro from "avsc";
import { ChangecastError } from "../errors.js";

export const PRIMITIVE_TYPES = [
  "null",
  "boolean",
  "int",
  "long",
  "float",
  "double",
  "bytes",
  "string",
] as const;
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number];

export interface LogicalType {
  name: string;
  /** decimal only */
  precision?: number;
  /** decimal only (defaults to 0 per the Avro specification) */
  scale?: number;
}

export interface PrimitiveSchema {
  kind: "primitive";
  type: PrimitiveType;
  logical?: LogicalType;
}

export interface AvroField {
  name: string;
  aliases: string[];
  type: AvroSchema;
  hasDefault: boolean;
  default?: unknown;
}

interface NamedBase {
  /** full name: namespace + "." + name, or just name in the null namespace */
  name: string;
  /** full names of the aliases (qualified with the type's own namespace when unqualified) */
  aliases: string[];
}

export interface RecordSchema extends NamedBase {
  kind: "record";
  fields: AvroField[];
}

export interface EnumSchema extends NamedBase {
  kind: "enum";
  symbols: string[];
  default?: string;
}

export interface FixedSchema extends NamedBase {
  kind: "fixed";
  size: number;
  logical?: LogicalType;
}

export interface ArraySchema {
  kind: "array";
  items: AvroSchema;
}

export interface MapSchema {
  kind: "map";
  values: AvroSchema;
}

export interface UnionSchema {
  kind: "union";
  branches: AvroSchema[];
}

export type NamedSchema = RecordSchema | EnumSchema | FixedSchema;
export type AvroSchema = PrimitiveSchema | NamedSchema | ArraySchema | MapSchema | UnionSchema;

export class InvalidSchemaError extends ChangecastError {
  readonly code = "REGISTRY_INVALID_SCHEMA";
  override name = "InvalidSchemaError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isPrimitive(name: string): name is PrimitiveType {
  return (PRIMITIVE_TYPES as readonly string[]).includes(name);
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The simple (unqualified) part of a full name. */
export function simpleName(fullName: string): string {
  const dot = fullName.lastIndexOf(".");
  return dot < 0 ? fullName : fullName.slice(dot + 1);
}

function namespaceOf(fullName: string): string {
  const dot = fullName.lastIndexOf(".");
  return dot < 0 ? "" : fullName.slice(0, dot);
}

function qualify(name: string, namespace: string): string {
  if (name.includes(".") || namespace === "") return name;
  return `${namespace}.${name}`;
}

function toJson(input: string | object): Json {
  if (typeof input !== "string") return input as Json;
  // a bare primitive name ("string") is a convenience avsc also accepts; "null" is not the JSON null here
  if (isPrimitive(input.trim())) return input.trim();
  try {
    return JSON.parse(input) as Json;
  } catch (e) {
    throw new InvalidSchemaError(`schema is not valid JSON: ${(e as Error).message}`);
  }
}

function validateWithAvsc(json: Json): void {
  try {
    avro.Type.forSchema(json as avro.Schema);
  } catch (e) {
    throw new InvalidSchemaError(`invalid Avro schema: ${(e as Error).message}`);
  }
}

/** Parses (and validates) an Avro schema given as JSON text or as an already parsed JSON value. */
export function parseAvroSchema(input: string | object): AvroSchema {
  const json = toJson(input);
  validateWithAvsc(json);
  return new Builder().build(json, "");
}

function logicalOf(obj: JsonObject): LogicalType | undefined {
  const name = obj["logicalType"];
  if (typeof name !== "string") return undefined;
  if (name !== "decimal") return { name };
  const precision = obj["precision"];
  const scale = obj["scale"] ?? 0;
  // An invalid decimal must be ignored and read as its underlying type (Avro specification).
  if (typeof precision !== "number" || typeof scale !== "number") return undefined;
  if (
    !Number.isInteger(precision) ||
    !Number.isInteger(scale) ||
    precision <= 0 ||
    scale < 0 ||
    scale > precision
  ) {
    return undefined;
  }
  return { name, precision, scale };
}

function stringList(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

class Builder {
  private readonly names = new Map<string, NamedSchema>();

  build(json: Json, namespace: string): AvroSchema {
    if (typeof json === "string") return this.reference(json, namespace);
    if (Array.isArray(json)) return { kind: "union", branches: json.map((b) => this.build(b, namespace)) };
    if (!isObject(json)) throw new InvalidSchemaError(`invalid Avro schema: ${JSON.stringify(json)}`);
    return this.complex(json, namespace);
  }

  private reference(name: string, namespace: string): AvroSchema {
    if (isPrimitive(name)) return { kind: "primitive", type: name };
    // Java's parser tries the enclosing namespace first, then the null namespace.
    const found = this.names.get(qualify(name, namespace)) ?? this.names.get(name);
    if (!found) throw new InvalidSchemaError(`invalid Avro schema: undefined type name: ${name}`);
    return found;
  }

  private complex(obj: JsonObject, namespace: string): AvroSchema {
    const type = obj["type"];
    if (Array.isArray(type) || isObject(type)) return this.build(type, namespace);
    if (typeof type !== "string") throw new InvalidSchemaError(`invalid Avro schema: missing "type"`);
    switch (type) {
      case "record":
      case "error":
        return this.record(obj, namespace);
      case "enum":
        return this.enumType(obj, namespace);
      case "fixed":
        return this.fixed(obj, namespace);
      case "array":
        return { kind: "array", items: this.build(obj["items"] ?? null, namespace) };
      case "map":
        return { kind: "map", values: this.build(obj["values"] ?? null, namespace) };
      default: {
        if (!isPrimitive(type)) return this.reference(type, namespace);
        const logical = logicalOf(obj);
        return logical ? { kind: "primitive", type, logical } : { kind: "primitive", type };
      }
    }
  }

  /** Full name and aliases of a named type, per the specification's namespace rules. */
  private naming(obj: JsonObject, enclosing: string): NamedBase & { namespace: string } {
    const rawName = String(obj["name"]);
    const ns = typeof obj["namespace"] === "string" ? obj["namespace"] : enclosing;
    const name = qualify(rawName, ns);
    const own = namespaceOf(name);
    const aliases = stringList(obj["aliases"]).map((a) => qualify(a, own));
    return { name, aliases, namespace: own };
  }

  private register<T extends NamedSchema>(schema: T): T {
    this.names.set(schema.name, schema);
    return schema;
  }

  private record(obj: JsonObject, enclosing: string): RecordSchema {
    const { name, aliases, namespace } = this.naming(obj, enclosing);
    // registered before its fields so that self references resolve to this very node
    const record = this.register<RecordSchema>({ kind: "record", name, aliases, fields: [] });
    const fields = Array.isArray(obj["fields"]) ? obj["fields"] : [];
    for (const f of fields) {
      if (!isObject(f)) continue;
      const field: AvroField = {
        name: String(f["name"]),
        aliases: stringList(f["aliases"]),
        type: this.build(f["type"] ?? null, namespace),
        hasDefault: "default" in f,
      };
      if (field.hasDefault) field.default = f["default"];
      record.fields.push(field);
    }
    return record;
  }

  private enumType(obj: JsonObject, enclosing: string): EnumSchema {
    const { name, aliases } = this.naming(obj, enclosing);
    const schema: EnumSchema = { kind: "enum", name, aliases, symbols: stringList(obj["symbols"]) };
    if (typeof obj["default"] === "string") schema.default = obj["default"];
    return this.register(schema);
  }

  private fixed(obj: JsonObject, enclosing: string): FixedSchema {
    const { name, aliases } = this.naming(obj, enclosing);
    const schema: FixedSchema = { kind: "fixed", name, aliases, size: Number(obj["size"]) };
    const logical = logicalOf(obj);
    if (logical) schema.logical = logical;
    return this.register(schema);
  }
}
