// Kafka Connect JSON schemas (JsonConverter `schemas.enable=true`) compiled once into value decoders.
// A decoder turns one payload value into a ColumnValue per the conventions of change-event.ts.
import { DecodeError, UNAVAILABLE, type ColumnValue, type Row } from "./change-event.js";
import { exactInteger, parseJsonIntegersAsBigint } from "./json-text.js";
import { formatDecimal, formatEpochDay, formatEpochTimestamp, formatTimeOfDay } from "./logical.js";
import { twosComplementToBigInt, type TimeUnit } from "./logical.js";

/** A Connect schema as JsonConverter writes it. */
export interface ConnectSchema {
  type: string;
  optional?: boolean;
  name?: string;
  version?: number;
  doc?: string;
  parameters?: Record<string, string>;
  default?: unknown;
  field?: string;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
  keys?: ConnectSchema;
  values?: ConnectSchema;
}

/** Decodes one payload value; throws DecodeError naming the field path. */
export type ValueDecoder = (value: unknown) => ColumnValue;

export const PLACEHOLDER = "__debezium_unavailable_value";
/** The placeholder's UTF-8 bytes in base64 (bytea / BLOB form). */
const PLACEHOLDER_BASE64 = Buffer.from(PLACEHOLDER, "utf8").toString("base64");
const PLACEHOLDER_BYTES = Array.from(Buffer.from(PLACEHOLDER, "utf8"));
/** Name-based UUID of the placeholder (uuid[] form). */
const PLACEHOLDER_UUID = "b68a35a7-17ad-35b3-af2a-ae46edb4545a";

/** Describes a JSON value's kind for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "array";
  // the number itself: "got number" alone does not say what is wrong with -1 or 86400000001
  if (typeof value === "bigint" || typeof value === "number") return `number ${String(value)}`;
  if (typeof value === "string")
    return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  return typeof value;
}

function mismatch(path: string, expected: string, value: unknown): never {
  throw new DecodeError(`${path || "payload"}: expected ${expected}, got ${describe(value)}`);
}

/** Reads a Connect schema object (from parsed JSON), validating the parts the decoders rely on. */
export function asConnectSchema(raw: unknown, path: string): ConnectSchema {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    mismatch(path, "a Connect schema object", raw);
  const s = raw as Record<string, unknown>;
  if (typeof s.type !== "string") mismatch(path + ".type", "a Connect schema type name", s.type);
  return s as unknown as ConnectSchema;
}

/**
 * Compiles a Connect schema into a decoder; `path` names the value in error messages ("after", "key").
 * `member`: for a struct field, its name (the JSON member the value is read from).
 */
export function compileSchema(raw: unknown, path: string, member?: string): ValueDecoder {
  const schema = asConnectSchema(raw, path);
  const inner = compileNonNull(schema, path, member);
  if (schema.optional === true) {
    // a nullable column keeps its null (Debezium sends null, not the column default)
    return (value) => (value === null || value === undefined ? null : inner(value));
  }
  // a required field can only be null if a producer skipped it: Connect reads that as the schema default
  const hasDefault = schema.default !== undefined && schema.default !== null;
  const fallback = hasDefault ? inner(schema.default) : null;
  return (value) => {
    if (value === null || value === undefined) {
      if (hasDefault) return fallback;
      return mismatch(path, `a ${schema.type} (field is not optional)`, value);
    }
    return inner(value);
  };
}

/** `member`: the struct field name the value is read from (json-text.ts exactInteger), if any. */
function compileNonNull(schema: ConnectSchema, path: string, member: string | undefined): ValueDecoder {
  const name = schema.name;
  switch (schema.type) {
    case "int8":
    case "int16":
    case "int32":
    case "int64":
      return compileInteger(schema.type, name, path, member);
    case "float32":
    case "float64":
    case "float":
    case "double":
      return schema.type === "float32" || schema.type === "float"
        ? (v) => toDouble(v, path, true)
        : (v) => toDouble(v, path, false);
    case "boolean":
      return (v) => (typeof v === "boolean" ? v : mismatch(path, "boolean", v));
    case "string":
      return compileString(name, path);
    case "bytes":
      return compileBytes(schema, path);
    case "array":
      return compileArray(schema, path);
    case "map":
      return compileMap(schema, path);
    case "struct":
      return compileStruct(schema, path);
    default:
      throw new DecodeError(
        `${path || "payload"}: unsupported Connect schema type ${JSON.stringify(schema.type)}`,
      );
  }
}

/** The values each Connect integer type holds: a value outside is no value of the column, never truncated. */
const INTEGER_RANGES: Record<string, readonly [bigint, bigint]> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** A JSON integer (number or bigint from the parser) as bigint. */
function toBigInt(v: unknown, path: string, what: string, member: string | undefined): bigint {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return BigInt(v);
    const exact = exactInteger(v, member); // natively parsed: the literal's exact value
    if (typeof exact === "bigint") return exact;
    if (Number.isInteger(exact)) return BigInt(exact);
    return mismatch(path, what, exact);
  } else if (typeof v === "bigint") return v;
  return mismatch(path, what, v);
}

/** A JSON integer as number when safe, else bigint (for the epoch formatters). */
function toEpoch(v: unknown, path: string, what: string, member: string | undefined): number | bigint {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return v;
    const exact = exactInteger(v, member); // natively parsed: the literal's exact value
    if (typeof exact === "bigint" || Number.isInteger(exact)) return exact;
    return mismatch(path, what, exact);
  }
  if (typeof v === "bigint") return v;
  return mismatch(path, what, v);
}

function compileInteger(
  type: string,
  name: string | undefined,
  path: string,
  member: string | undefined,
): ValueDecoder {
  const [min, max] = INTEGER_RANGES[type] as readonly [bigint, bigint];
  const minNumber = Number(min);
  const maxNumber = Number(max);
  const inRange = <T extends number | bigint>(n: T, v: unknown): T => {
    // a safe-integer number is inside int64 always; compare numbers as numbers (no BigInt per value)
    if (typeof n === "number" ? type !== "int64" && (n < minNumber || n > maxNumber) : n < min || n > max) {
      throw new DecodeError(
        `${path || "payload"}: ${typeof v === "number" || typeof v === "bigint" ? String(n) : describe(v)} is out of range for ${type}`,
      );
    }
    return n;
  };
  const timestamp = (unit: TimeUnit, what: string): ValueDecoder => {
    return (v) => formatEpochTimestamp(inRange(toEpoch(v, path, what, member), v), unit);
  };
  const perDay: Record<TimeUnit, bigint> = { ms: 86_400_000n, us: 86_400_000_000n, ns: 86_400_000_000_000n };
  const time = (unit: TimeUnit, what: string): ValueDecoder => {
    return (v) => {
      const t = inRange(toEpoch(v, path, what, member), v);
      // 24:00:00 is a valid end of day (Postgres); past it is no time of day
      if (t < 0 || BigInt(t) > perDay[unit]) mismatch(path, what, v);
      return formatTimeOfDay(t, unit);
    };
  };
  switch (name) {
    case "io.debezium.time.Date":
    case "org.apache.kafka.connect.data.Date":
      return (v) => {
        const days = Number(inRange(toEpoch(v, path, "an integer day count (Date)", member), v));
        if (!Number.isSafeInteger(days)) return mismatch(path, "a day count in range (Date)", v);
        return formatEpochDay(days);
      };
    case "io.debezium.time.Time":
    case "org.apache.kafka.connect.data.Time":
      return time("ms", "milliseconds of the day (Time)");
    case "io.debezium.time.MicroTime":
      return time("us", "microseconds of the day (MicroTime)");
    case "io.debezium.time.NanoTime":
      return time("ns", "nanoseconds of the day (NanoTime)");
    case "io.debezium.time.Timestamp":
    case "org.apache.kafka.connect.data.Timestamp":
      return timestamp("ms", "epoch milliseconds (Timestamp)");
    case "io.debezium.time.MicroTimestamp":
      return timestamp("us", "epoch microseconds (MicroTimestamp)");
    case "io.debezium.time.NanoTimestamp":
      return timestamp("ns", "epoch nanoseconds (NanoTimestamp)");
    default:
      // plain ints, MicroDuration (bigint µs), Year, …
      return (v) => inRange(toBigInt(v, path, "an integer", member), v);
  }
}

const SPECIAL_DOUBLES: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

function toDouble(v: unknown, path: string, single: boolean): number {
  if (typeof v === "number") {
    // a literal beyond the type's range (1e400 parses to Infinity) is no value Jackson writes: never rounded
    if (!Number.isFinite(v) || (single && !Number.isFinite(Math.fround(v)))) {
      throw new DecodeError(
        `${path || "payload"}: ${exactText(v)} is out of range for ${single ? "float32" : "float64"}`,
      );
    }
    return v;
  }
  if (typeof v === "bigint") {
    const n = Number(v);
    if (!Number.isFinite(n) || (single && !Number.isFinite(Math.fround(n)))) {
      throw new DecodeError(
        `${path || "payload"}: ${v} is out of range for ${single ? "float32" : "float64"}`,
      );
    }
    return n;
  }
  if (typeof v === "string") {
    // Jackson writes non-finite doubles as quoted strings
    const special = SPECIAL_DOUBLES[v];
    if (special !== undefined) return special;
  }
  return mismatch(path, "a floating-point number", v);
}

function exactText(v: number): string {
  return Number.isFinite(v) ? String(v) : "a number literal";
}

/** Whether a string has a lone UTF-16 surrogate (from a `\ud800` escape): it has no UTF-8 form. */
export function hasLoneSurrogate(s: string): boolean {
  return !(s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Whether every string (and member name) of a parsed JSON document is well-formed UTF-16. */
function wellFormedDocument(doc: unknown): boolean {
  if (typeof doc === "string") return !hasLoneSurrogate(doc);
  if (doc === null || typeof doc !== "object") return true;
  if (Array.isArray(doc)) return doc.every(wellFormedDocument);
  for (const [k, v] of Object.entries(doc)) if (hasLoneSurrogate(k) || !wellFormedDocument(v)) return false;
  return true;
}

function loneSurrogate(path: string, v: string): never {
  throw new DecodeError(
    `${path || "payload"}: string ${describe(v)} has a lone surrogate (an unpaired \\uD800-\\uDFFF escape): it has no UTF-8 form`,
  );
}

function compileString(name: string | undefined, path: string): ValueDecoder {
  if (name === "io.debezium.data.Json") {
    return (v) => {
      if (typeof v !== "string") return mismatch(path, "a JSON document string (Json)", v);
      if (v === PLACEHOLDER) return UNAVAILABLE;
      if (hasLoneSurrogate(v)) loneSurrogate(path, v);
      let doc: unknown;
      try {
        doc = parseJsonIntegersAsBigint(v);
      } catch (err) {
        throw new DecodeError(`${path}: Json column is not valid JSON (${(err as Error).message})`);
      }
      // a \uD800-\uDFFF escape in the document may leave a lone surrogate in one of its strings
      if (SURROGATE_ESCAPE.test(v) && !wellFormedDocument(doc)) {
        throw new DecodeError(
          `${path}: Json column has a string with a lone surrogate (an unpaired \\uD800-\\uDFFF escape): it has no UTF-8 form`,
        );
      }
      // hstore (json mode) placeholder: {"__debezium_unavailable_value":"__debezium_unavailable_value"}
      if (isPlaceholderMap(doc)) return UNAVAILABLE;
      // the parser yields only null/boolean/number/bigint/string/array/object: already ColumnValues
      return doc as ColumnValue;
    };
  }
  // Uuid, Enum, Xml, ZonedTimestamp, ZonedTime, Iso*, Interval, decimal string mode: kept as sent
  return (v) => {
    if (typeof v !== "string") return mismatch(path, "string", v);
    if (hasLoneSurrogate(v)) loneSurrogate(path, v);
    return v === PLACEHOLDER ? UNAVAILABLE : v;
  };
}

/**
 * Base64 as JsonConverter writes bytes (RFC 4648 alphabet, padding optional). Node's decoder skips characters
 * outside the alphabet silently, which would change the value: such text is rejected instead.
 */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(v: string, path: string, what: string): Buffer {
  const data = v.length - (v.endsWith("==") ? 2 : v.endsWith("=") ? 1 : 0);
  if (!BASE64.test(v) || data % 4 === 1 || (v.length !== data && v.length % 4 !== 0)) {
    throw new DecodeError(`${path || "payload"}: ${describe(v)} is not base64 (${what})`);
  }
  return Buffer.from(v, "base64");
}

function decodeBase64(v: string, path: string): Uint8Array {
  const buf = base64Bytes(v, path, "bytes");
  // copy out of Node's shared pool so the value owns its memory
  return new Uint8Array(buf);
}

/**
 * The scales a decimal may have: Postgres numeric allows -1000..1000 declared and 16383 fraction digits,
 * Oracle NUMBER -84..127. Far beyond that is no column's, and would make a string of that many zeros.
 */
const MAX_SCALE = 32_767;

function compileBytes(schema: ConnectSchema, path: string): ValueDecoder {
  if (schema.name === "org.apache.kafka.connect.data.Decimal") {
    const scale = Number(schema.parameters?.scale ?? "0");
    if (!Number.isInteger(scale) || Math.abs(scale) > MAX_SCALE) {
      throw new DecodeError(
        `${path}: Decimal schema has an invalid scale ${JSON.stringify(schema.parameters?.scale)}`,
      );
    }
    return (v) => {
      if (typeof v !== "string") return mismatch(path, "base64 Decimal bytes", v);
      if (v === PLACEHOLDER_BASE64 || v === PLACEHOLDER) return UNAVAILABLE;
      // no bytes is no number (Java's BigInteger rejects it): not zero
      if (v === "") return mismatch(path, "base64 Decimal bytes", v);
      return formatDecimal(twosComplementToBigInt(base64Bytes(v, path, "Decimal bytes")), scale);
    };
  }
  // plain bytes, io.debezium.data.Bits (little-endian bit order, kept as bytes)
  return (v) => {
    if (typeof v !== "string") return mismatch(path, "base64 bytes", v);
    if (v === PLACEHOLDER_BASE64) return UNAVAILABLE;
    return decodeBase64(v, path);
  };
}

function compileArray(schema: ConnectSchema, path: string): ValueDecoder {
  if (schema.items === undefined) throw new DecodeError(`${path}: array schema without items`);
  const item = compileSchema(schema.items, path + "[]");
  const itemType = schema.items.type;
  const isUuid = schema.items.name === "io.debezium.data.Uuid";
  const isInt = itemType === "int8" || itemType === "int16" || itemType === "int32" || itemType === "int64";
  return (v) => {
    if (!Array.isArray(v)) return mismatch(path, "array", v);
    if (v.length === 1 && (v[0] === PLACEHOLDER || (isUuid && v[0] === PLACEHOLDER_UUID))) return UNAVAILABLE;
    if (isInt && v.length === PLACEHOLDER_BYTES.length && isPlaceholderBytes(v)) return UNAVAILABLE;
    const out: ColumnValue[] = new Array<ColumnValue>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = item(v[i]);
    return out;
  };
}

function isPlaceholderBytes(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if ((typeof x !== "number" && typeof x !== "bigint") || Number(x) !== PLACEHOLDER_BYTES[i]) return false;
  }
  return true;
}

function isPlaceholderMap(v: unknown): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return (
    keys.length === 1 &&
    keys[0] === PLACEHOLDER &&
    (v as Record<string, unknown>)[PLACEHOLDER] === PLACEHOLDER
  );
}

function compileMap(schema: ConnectSchema, path: string): ValueDecoder {
  if (schema.keys === undefined || schema.values === undefined) {
    throw new DecodeError(`${path}: map schema without keys/values`);
  }
  const keyDecoder = compileSchema(schema.keys, path + "{key}");
  const valueDecoder = compileSchema(schema.values, path + "{}");
  return (v) => {
    if (isPlaceholderMap(v)) return UNAVAILABLE;
    const out: { [k: string]: ColumnValue } = {};
    if (Array.isArray(v)) {
      // JsonConverter writes maps with non-string keys as [[key, value], …]
      for (const entry of v) {
        if (!Array.isArray(entry) || entry.length !== 2)
          return mismatch(path, "a [key, value] map entry", entry);
        setOwn(out, String(keyDecoder(entry[0])), valueDecoder(entry[1]));
      }
      return out;
    }
    if (v === null || typeof v !== "object") return mismatch(path, "map object", v);
    for (const k of Object.keys(v)) setOwn(out, k, valueDecoder((v as Record<string, unknown>)[k]));
    return out;
  };
}

function compileStruct(schema: ConnectSchema, path: string): ValueDecoder {
  const fieldSchemas = schema.fields;
  if (!Array.isArray(fieldSchemas))
    throw new DecodeError(`${path || "payload"}: struct schema without fields`);
  const names: string[] = [];
  const decoders: ValueDecoder[] = [];
  for (const f of fieldSchemas) {
    const fs = asConnectSchema(f, path);
    if (typeof fs.field !== "string")
      throw new DecodeError(`${path || "payload"}: struct field without a name`);
    names.push(fs.field);
    decoders.push(compileSchema(fs, path ? path + "." + fs.field : fs.field, fs.field));
  }
  const count = names.length;
  // a column named like an Object.prototype member (toString, constructor, __proto__) is read and written as
  // an own property only: never the inherited member, and `row.__proto__ = v` would set the prototype
  const special = names.some((n) => n in Object.prototype);
  const build = special ? undefined : rowBuilder(names);
  const struct: ValueDecoder = (v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return mismatch(path, "struct object", v);
    const obj = v as Record<string, unknown>;
    if (build !== undefined) return build(decoders, obj);
    const row: Row = {};
    if (special) {
      for (let i = 0; i < count; i++) {
        const n = names[i] as string;
        setOwn(row, n, (decoders[i] as ValueDecoder)(Object.hasOwn(obj, n) ? obj[n] : undefined));
      }
      return row;
    }
    for (let i = 0; i < count; i++) {
      const n = names[i] as string;
      row[n] = (decoders[i] as ValueDecoder)(obj[n]);
    }
    return row;
  };
  if (schema.name === "io.debezium.data.VariableScaleDecimal") {
    return (v) => {
      const row = struct(v) as Row;
      const scale = row.scale;
      const value = row.value;
      if (value === UNAVAILABLE) return UNAVAILABLE;
      if (typeof scale !== "bigint" || !(value instanceof Uint8Array)) {
        return mismatch(path, "{scale, value} (VariableScaleDecimal)", v);
      }
      if (scale < -MAX_SCALE || scale > MAX_SCALE) return mismatch(path, "a decimal scale in range", v);
      return formatDecimal(twosComplementToBigInt(value), Number(scale));
    };
  }
  return struct;
}

type RowBuilder = (decoders: ValueDecoder[], obj: Record<string, unknown>) => Row;

/**
 * `{ [names[0]]: decoders[0](obj[names[0]]), … }` as one object literal: every row of a struct gets the same
 * shape at once (fields decoded in order, as the loop did), instead of growing one property at a time. Only
 * for names that are no Object.prototype member (those take the own-property path).
 */
function rowBuilder(names: readonly string[]): RowBuilder | undefined {
  if (names.length === 0 || names.length > 256) return undefined;
  const members = names.map((n, i) => {
    const name = JSON.stringify(n);
    return `${name}: d[${i}](o[${name}])`;
  });
  try {
    return new Function("d", "o", `"use strict"; return { ${members.join(", ")} };`) as RowBuilder;
  } catch {
    return undefined;
  }
}

/**
 * Schemaless JSON → ColumnValue: values stay as JSON gives them (integers as the parser made them). Only the
 * unavailable placeholder becomes UNAVAILABLE, in the forms that cannot be mistaken for data even without a
 * schema: the string, its base64 bytes, `["__debezium_unavailable_value"]`, its bytes as an int array, the
 * placeholder uuid array and the hstore map.
 */
export function jsonToColumnValue(v: unknown): ColumnValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "string":
      if (hasLoneSurrogate(v)) loneSurrogate("", v);
      return v === PLACEHOLDER || v === PLACEHOLDER_BASE64 ? UNAVAILABLE : v;
    case "number":
      // a literal beyond a double (1e400) parses to ±Infinity: never passed on as that
      if (!Number.isFinite(v)) throw new DecodeError("payload: a number literal is out of range for float64");
      return v;
    case "bigint":
    case "boolean":
      return v;
    case "object": {
      if (Array.isArray(v)) {
        if (v.length === 1 && (v[0] === PLACEHOLDER || v[0] === PLACEHOLDER_UUID)) return UNAVAILABLE;
        if (v.length === PLACEHOLDER_BYTES.length && isPlaceholderBytes(v)) return UNAVAILABLE;
        return v.map(jsonToColumnValue);
      }
      if (isPlaceholderMap(v)) return UNAVAILABLE;
      const out: { [k: string]: ColumnValue } = {};
      for (const k of Object.keys(v)) setOwn(out, k, jsonToColumnValue((v as Record<string, unknown>)[k]));
      return out;
    }
    default:
      return null;
  }
}

/** Sets an own enumerable property, also for the name "__proto__" (which plain assignment treats as the prototype). */
function setOwn(target: { [name: string]: ColumnValue }, name: string, value: ColumnValue): void {
  if (name === "__proto__") {
    Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  } else target[name] = value;
}
