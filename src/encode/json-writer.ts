// The JSON text of an Avro value as docs/records.md renders it — exactly stringifyJsonFast(renderValue(type, v)) —
// written by a writer compiled once per schema instead of building the rendered object and walking it. Types
// other than records, primitives, logical types and unions are written through renderValue as before.
import type avro from "avsc";
import { CastLogicalType } from "./logical-types.js";
import { jsonText, stringifyJsonFast } from "./json-fast.js";
import { renderValue } from "./render.js";
import { unionBranches } from "./type-info.js";

/** The text of one value inside its parent, or undefined where stringifyJson would leave the member out. */
type Writer = (value: unknown) => string | undefined;

/** A writer of the JSON text of values of `type`. */
export function valueJsonWriter(type: avro.Type): (value: unknown) => string {
  const write = writerOf(type, new Map());
  return (value) => {
    try {
      const text = write(value);
      if (text !== undefined) return text;
    } catch {
      // whatever the compiled writer does not take (an unusual rendered value): the generic path decides
    }
    return stringifyJsonFast(renderValue(type, value));
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function numberText(value: unknown): string {
  if (typeof value !== "number") return "null";
  if (!Number.isFinite(value)) return JSON.stringify(String(value)); // JSON has no NaN/Infinity: their names
  return Object.is(value, -0) ? "-0.0" : JSON.stringify(value);
}

function writerOf(type: avro.Type, records: Map<avro.Type, Writer>): Writer {
  if (type instanceof CastLogicalType) {
    const logical = type;
    // the coerced value is mostly the canonical text coerce() just made: not parsed again
    return (v) => jsonText(logical.canonical(v));
  }
  switch (type.typeName) {
    case "null":
      return () => "null";
    case "boolean":
      return (v) => (v === true ? "true" : v === false ? "false" : "null");
    case "int":
    case "float":
    case "double":
      return numberText;
    case "long":
    case "abstract:long":
      return (v) =>
        typeof v === "bigint" ? v.toString() : Number.isInteger(v) ? BigInt(v as number).toString() : "null";
    case "string":
    case "enum":
      return (v) => (typeof v === "string" ? JSON.stringify(v) : "null");
    case "record":
    case "error":
      return recordWriter(type as avro.types.RecordType, records);
    default:
      if (type.typeName.startsWith("union")) return unionWriter(type, records);
      // bytes, fixed, arrays, maps: rendered, then written
      return (v) => jsonText(renderValue(type, v));
  }
}

function recordWriter(type: avro.types.RecordType, records: Map<avro.Type, Writer>): Writer {
  const known = records.get(type);
  if (known) return known;
  const fields: { name: string; prefix: string; write: Writer }[] = [];
  const write: Writer = (v) => {
    const record = isObject(v) ? v : {};
    let s = "{";
    let first = true;
    for (const f of fields) {
      const text = f.write(record[f.name]);
      if (text === undefined) continue;
      if (first) first = false;
      else s += ",";
      s += f.prefix + text;
    }
    return s + "}";
  };
  records.set(type, write); // a recursive record reaches itself while its fields are built
  for (const field of type.fields) {
    fields.push({
      name: field.name,
      prefix: JSON.stringify(field.name) + ":",
      write: writerOf(field.type, records),
    });
  }
  return write;
}

function unionWriter(type: avro.Type, records: Map<avro.Type, Writer>): Writer {
  const branches = new Map<string, Writer>();
  for (const b of unionBranches(type)) {
    const name = (b as unknown as { branchName?: string }).branchName;
    if (name !== undefined && !branches.has(name)) branches.set(name, writerOf(b, records));
  }
  return (v) => {
    if (!isObject(v)) return "null";
    const [branchName] = Object.keys(v);
    const write = branchName === undefined ? undefined : branches.get(branchName);
    return write ? write(v[branchName as string]) : "null";
  };
}
