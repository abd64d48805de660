// docs/records.md: an Avro value as plain JSON for replay output and the embedded sink. Unions unwrapped,
// logical types as their canonical text, bytes/fixed base64, longs as bigint (print with stringifyJson).
import avro from "avsc";
import { CastLogicalType } from "./logical-types.js";
import { unionBranches } from "./type-info.js";

export type RenderedJson =
  null | boolean | number | bigint | string | RenderedJson[] | { [key: string]: RenderedJson };

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function renderNumber(value: unknown): RenderedJson {
  if (typeof value !== "number") return null;
  return Number.isFinite(value) ? value : String(value); // JSON has no NaN/Infinity: print their names
}

function renderUnion(type: avro.Type, value: unknown): RenderedJson {
  if (value === null || value === undefined || !isObject(value)) return null;
  const [branchName] = Object.keys(value);
  const branch = unionBranches(type).find((b) => b.branchName === branchName);
  return branch && branchName !== undefined ? renderValue(branch, value[branchName]) : null;
}

function renderEntries(value: unknown, render: (item: unknown) => RenderedJson): RenderedJson {
  const out: { [key: string]: RenderedJson } = {};
  if (!isObject(value)) return out;
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(out, key, {
      value: render(item),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The plain-JSON form of `value`, an Avro value of `type` (as coerce() or decode() produce it). */
export function renderValue(type: avro.Type, value: unknown): RenderedJson {
  if (type instanceof CastLogicalType) return type.normalize(value) as string;
  switch (type.typeName) {
    case "null":
      return null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "int":
    case "float":
    case "double":
      return renderNumber(value);
    case "long":
    case "abstract:long":
      return typeof value === "bigint" ? value : Number.isInteger(value) ? BigInt(value as number) : null;
    case "string":
    case "enum":
      return typeof value === "string" ? value : null;
    case "bytes":
    case "fixed":
      return value instanceof Uint8Array ? Buffer.from(value).toString("base64") : null;
    case "array": {
      const items = (type as avro.types.ArrayType).itemsType;
      return Array.isArray(value) ? value.map((item: unknown) => renderValue(items, item)) : [];
    }
    case "map": {
      const values = (type as avro.types.MapType).valuesType as avro.Type;
      return renderEntries(value, (item) => renderValue(values, item));
    }
    case "record":
    case "error": {
      const out: { [key: string]: RenderedJson } = {};
      const record = isObject(value) ? value : {};
      for (const field of (type as avro.types.RecordType).fields) {
        const rendered = renderValue(field.type, record[field.name]);
        Object.defineProperty(out, field.name, {
          value: rendered,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    default:
      return type.typeName.startsWith("union") ? renderUnion(type, value) : null;
  }
}
