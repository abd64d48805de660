// Errors raised by the encode stage. Both are "bad input" errors: the worker dead-letters the record
// (CoercionError) or `changecast check` reports the schema file (SchemaError).

import { ChangecastError } from "../errors.js";

/** An .avsc document that is not a valid Avro record schema. */
export class SchemaError extends ChangecastError {
  readonly code = "ENCODE_SCHEMA_INVALID";
  override readonly name = "SchemaError";
}

/** A mapped value that cannot become the target Avro type without loss. */
export class CoercionError extends ChangecastError {
  override readonly name = "CoercionError";
  readonly code = "ENCODE_COERCION";
  /** field path inside the record, e.g. `lines[2].sku` ("" for the record itself) */
  readonly path: string;
  /** the reason without the path, e.g. `1e+40 does not fit decimal(12,2)` */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(path === "" ? reason : `field "${path}": ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Internal: a conversion failure before the field path is known. Leaf converters throw it; the
 * coercer that knows the path turns it into a CoercionError.
 */
export class Reason extends ChangecastError {
  readonly code = "ENCODE_REASON";
  override readonly name = "Reason";
}

const MAX_SHOWN = 60;

/** A short, unambiguous rendering of a value for error messages. */
export function show(value: unknown): string {
  switch (typeof value) {
    case "string": {
      const text = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
      return JSON.stringify(text);
    }
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return value.toString();
    case "undefined":
      return "null";
    default:
      if (value === null) return "null";
      if (value instanceof Uint8Array) return `bytes[${value.length}]`;
      if (Array.isArray(value)) return `array[${value.length}]`;
      if (value instanceof Date)
        return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
      if (value instanceof Map) return `map{${value.size}}`;
      return "object";
  }
}
