// Avro schemas written by Confluent's AvroConverter (io.confluent.connect.avro.AvroData, connect.meta.data=true)
// compiled once into a body reader plus a value mapper that yields the ColumnValue conventions of
// change-event.ts — the same values connect-schema.ts produces from JsonConverter payloads.
//
// AvroData keeps the Connect semantics in schema attributes: `connect.name` (Debezium / Connect logical types),
// `connect.parameters` (Decimal scale, Enum allowed values), `connect.type` (int8/int16). Only Connect's own
// logical types also get an Avro `logicalType` (decimal, date, time-millis, timestamp-millis), which avsc is not
// asked to interpret: every value is read as its plain Avro type and mapped here.
import { isUtf8 } from "node:buffer";
import avro from "avsc";
import { bigintLongType } from "../avro/long.js";
import { DecodeError, UNAVAILABLE, type ColumnValue, type Row } from "./change-event.js";
import { describe, PLACEHOLDER } from "./connect-schema.js";
import { parseJson, parseJsonIntegersAsBigint } from "./json-text.js";
import {
  formatDecimal,
  formatEpochDay,
  formatEpochTimestamp,
  formatTimeOfDay,
  twosComplementToBigInt,
  type TimeUnit,
} from "./logical.js";

/** An Avro writer schema, compiled. */
export interface CompiledAvroSchema {
  /** the root's Connect schema name (`connect.name`, else the Avro full name); undefined for unnamed roots */
  readonly name: string | undefined;
  /**
   * Reads one Avro body (the bytes after the 5-byte wire header) and maps it to a ColumnValue. Throws
   * DecodeError (naming `path`) when the body does not decode with this schema: truncated, trailing bytes,
   * invalid union index, invalid length, or a value its logical type rejects.
   */
  read(body: Buffer, path: string): ColumnValue;
}

/** Maps one avsc-decoded value (unions wrapped) to a ColumnValue. */
type Mapper = (value: unknown) => ColumnValue;

const PLACEHOLDER_BYTES = Buffer.from(PLACEHOLDER, "utf8");
/** Name-based UUID of the placeholder (uuid[] form). */
const PLACEHOLDER_UUID = "b68a35a7-17ad-35b3-af2a-ae46edb4545a";

const PRIMITIVES: ReadonlySet<string> = new Set([
  "null",
  "boolean",
  "int",
  "long",
  "float",
  "double",
  "bytes",
  "string",
]);

/**
 * Compiles the text of an Avro schema (as the registry returns it). Throws DecodeError when the text is not
 * JSON or not a valid Avro schema.
 */
export function compileAvroSchema(schemaText: string): CompiledAvroSchema {
  let raw: unknown;
  try {
    // parseJson keeps long defaults beyond 2^53 exact
    raw = parseJson(schemaText);
  } catch (err) {
    throw new DecodeError(`schema is not JSON: ${(err as Error).message}`);
  }
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(raw as avro.Schema, {
      // every long (also {"type":"long", …} with attributes, which avsc's registry would not catch) as bigint
      typeHook: longAsBigint,
      wrapUnions: true,
      omitRecordMethods: true,
    });
  } catch (err) {
    throw new DecodeError(`not a valid Avro schema: ${(err as Error).message}`);
  }
  const compiler = new MapperCompiler();
  const root = compiler.compile(raw, "", "");
  const mapper = root.mapper;
  return {
    name: root.connectName,
    read(body: Buffer, path: string): ColumnValue {
      let value: unknown;
      try {
        value = type.fromBuffer(body);
      } catch (err) {
        throw new DecodeError(
          `${path}: Avro body (${body.length} bytes) does not decode with its writer schema: ${(err as Error).message}`,
        );
      }
      return mapper(value);
    },
  };
}

function longAsBigint(schema: avro.Schema): avro.Type | undefined {
  const s: unknown = schema;
  if (s === "string" || (isObject(s) && s.type === "string" && s.logicalType === undefined))
    return strictString;
  return s === "long" || (isObject(s) && s.type === "long") ? bigintLongType : undefined;
}

/** What avsc's reader reads with (internal, but the one place the string bytes are in reach). */
interface Tap {
  readBytes(): Buffer | undefined;
}

/**
 * Avro `string` that rejects bytes that are not UTF-8: avsc decodes them with replacement characters, which
 * would change the value. Every string of a writer schema (record fields, arrays, unions) reads through it.
 */
class StrictStringType extends avro.types.StringType {
  _read(tap: Tap): string | undefined {
    const bytes = tap.readBytes();
    if (bytes === undefined) return undefined; // truncated: avsc reports it
    if (!isUtf8(bytes)) throw new DecodeError(`a string that is not valid UTF-8 (${bytes.length} bytes)`);
    return bytes.toString("utf8");
  }
}
const strictString: avro.Type = new StrictStringType();

// ---- schema walk ------------------------------------------------------------------------------------------

interface Compiled {
  mapper: Mapper;
  /** `connect.name`, else the Avro full name of a named type */
  connectName: string | undefined;
  /** the Avro type name after resolving references: "int", "record", "array", … */
  avroType: string;
  /** avsc's union branch name for this type (primitive name, full name, "array", "map") */
  branch: string;
}

type SchemaObject = Record<string, unknown>;

function isObject(v: unknown): v is SchemaObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

class MapperCompiler {
  /** named types by full name; the mapper is filled in after the fields (recursive records) */
  private readonly named = new Map<string, Compiled>();

  compile(node: unknown, namespace: string, path: string): Compiled {
    if (Array.isArray(node)) return this.union(node, namespace, path);
    if (typeof node === "string") {
      if (PRIMITIVES.has(node)) return primitive(node, {}, path);
      const found = this.named.get(fullName(node, namespace)) ?? this.named.get(node);
      if (found === undefined) throw new DecodeError(`${path || "schema"}: unknown Avro type ${node}`);
      // late-bound: a recursive reference sees the mapper once its record is complete
      return { ...found, mapper: (v) => found.mapper(v) };
    }
    if (!isObject(node)) throw new DecodeError(`${path || "schema"}: not an Avro schema`);
    const type = node.type;
    if (typeof type !== "string") return this.compile(type, namespace, path);
    if (PRIMITIVES.has(type)) return primitive(type, node, path);
    switch (type) {
      case "record":
      case "error":
        return this.record(node, namespace, path);
      case "enum":
        return this.register(node, namespace, "enum", stringMapper());
      case "fixed":
        return this.register(node, namespace, "fixed", bytesMapper(node, path));
      case "array":
        return this.array(node, namespace, path);
      case "map":
        return this.map(node, namespace, path);
      default:
        // a reference written as {"type": "Name"}
        return this.compile(type, namespace, path);
    }
  }

  private register(node: SchemaObject, namespace: string, avroType: string, mapper: Mapper): Compiled {
    const name = fullName(String(node.name), namespaceOf(node, namespace));
    const compiled: Compiled = { mapper, connectName: connectNameOf(node) ?? name, avroType, branch: name };
    this.named.set(name, compiled);
    return compiled;
  }

  private record(node: SchemaObject, namespace: string, path: string): Compiled {
    const compiled = this.register(node, namespace, "record", () => null);
    const inner = fullName(String(node.name), namespaceOf(node, namespace)).split(".");
    inner.pop();
    const ns = inner.join(".");
    const fields = Array.isArray(node.fields) ? (node.fields as unknown[]) : [];
    const names: string[] = [];
    const fieldMappers: Compiled[] = [];
    for (const f of fields) {
      if (!isObject(f) || typeof f.name !== "string") {
        throw new DecodeError(`${path || "schema"}: record field without a name`);
      }
      names.push(f.name);
      fieldMappers.push(this.compile(f.type, ns, path ? path + "." + f.name : f.name));
    }
    const mappers = fieldMappers.map((c) => c.mapper);
    const count = names.length;
    const struct = (v: unknown): Row => {
      const obj = v as Record<string, unknown>;
      const row: Row = {};
      for (let i = 0; i < count; i++) {
        const n = names[i] as string;
        const value = (mappers[i] as Mapper)(obj[n]);
        // a field named "__proto__" is a column: plain assignment would set the row's prototype
        if (n === "__proto__") Object.defineProperty(row, n, { value, enumerable: true, writable: true });
        else row[n] = value;
      }
      return row;
    };
    if (compiled.connectName === "io.debezium.data.VariableScaleDecimal") {
      compiled.mapper = (v) => {
        const row = struct(v);
        const scale = row.scale;
        const value = row.value;
        if (value === UNAVAILABLE) return UNAVAILABLE;
        if (typeof scale !== "bigint" || !(value instanceof Uint8Array)) {
          throw new DecodeError(`${path}: expected {scale, value} (VariableScaleDecimal)`);
        }
        return formatDecimal(twosComplementToBigInt(value), Number(scale));
      };
    } else if (isMapEntry(compiled.connectName, names)) {
      // AvroData writes a Connect map with non-string keys as an array of {key, value} records
      compiled.mapper = struct;
      compiled.avroType = "map-entry";
    } else {
      compiled.mapper = struct;
    }
    return compiled;
  }

  private union(branches: unknown[], namespace: string, path: string): Compiled {
    const compiled = branches.map((b) => this.compile(b, namespace, path));
    const byBranch = new Map<string, Mapper>();
    for (const c of compiled) byBranch.set(c.branch, c.mapper);
    const nonNull = compiled.filter((c) => c.avroType !== "null");
    // the common case, an optional field ["null", T] / [T, "null"]: one lookup, no map
    const only = nonNull.length === 1 ? nonNull[0] : undefined;
    if (only !== undefined) {
      const branch = only.branch;
      const mapper = only.mapper;
      return {
        ...only,
        mapper: (v) => (v === null ? null : mapper((v as Record<string, unknown>)[branch])),
      };
    }
    return {
      mapper: (v) => {
        if (v === null) return null;
        const obj = v as Record<string, unknown>;
        for (const k in obj) {
          const m = byBranch.get(k);
          if (m !== undefined) return m(obj[k]);
        }
        throw new DecodeError(`${path}: union value of no known branch`);
      },
      connectName: undefined,
      avroType: "union",
      branch: "union",
    };
  }

  private array(node: SchemaObject, namespace: string, path: string): Compiled {
    const itemsNode = node.items;
    const item = this.compile(itemsNode, namespace, path + "[]");
    const itemMapper = item.mapper;
    const unwrap = unwrapper(itemsNode, item);
    if (item.avroType === "map-entry") {
      // Connect map with non-string keys; JsonConverter's [[key, value], …] decodes to the same object
      const compiled: Compiled = {
        mapper: (v) => {
          const entries = v as unknown[];
          const out: { [k: string]: ColumnValue } = {};
          for (const e of entries) {
            const row = itemMapper(e);
            if (row === null || typeof row !== "object") throw new DecodeError(`${path}: null map entry`);
            const entry = row as Row;
            out[String(entry.key)] = entry.value ?? null;
          }
          return out;
        },
        connectName: connectNameOf(node),
        avroType: "array",
        branch: "array",
      };
      return compiled;
    }
    const isUuid = item.connectName === "io.debezium.data.Uuid";
    const isInt = item.avroType === "int" || item.avroType === "long";
    return {
      mapper: (v) => {
        const arr = v as unknown[];
        const len = arr.length;
        // the type-specific unavailable placeholders of PG arrays (see TYPES.md)
        if (len === 1) {
          const first = unwrap(arr[0]);
          if (first === PLACEHOLDER || (isUuid && first === PLACEHOLDER_UUID)) return UNAVAILABLE;
        }
        if (isInt && len === PLACEHOLDER_BYTES.length && isPlaceholderInts(arr, unwrap)) return UNAVAILABLE;
        const out = new Array<ColumnValue>(len);
        for (let i = 0; i < len; i++) out[i] = itemMapper(arr[i]);
        return out;
      },
      connectName: connectNameOf(node),
      avroType: "array",
      branch: "array",
    };
  }

  private map(node: SchemaObject, namespace: string, path: string): Compiled {
    const valuesNode = node.values;
    const values = this.compile(valuesNode, namespace, path + "{}");
    const valueMapper = values.mapper;
    const unwrap = unwrapper(valuesNode, values);
    return {
      mapper: (v) => {
        const obj = v as Record<string, unknown>;
        const keys = Object.keys(obj);
        // hstore (map mode) placeholder: {"__debezium_unavailable_value": "__debezium_unavailable_value"}
        if (keys.length === 1 && keys[0] === PLACEHOLDER && unwrap(obj[PLACEHOLDER]) === PLACEHOLDER) {
          return UNAVAILABLE;
        }
        const out: { [k: string]: ColumnValue } = {};
        for (const k of keys) out[k] = valueMapper(obj[k]);
        return out;
      },
      connectName: connectNameOf(node),
      avroType: "map",
      branch: "map",
    };
  }
}

/** The plain value inside a (possibly wrapped, possibly optional) item/value. */
function unwrapper(node: unknown, compiled: Compiled): (v: unknown) => unknown {
  if (!Array.isArray(node)) return (v) => v;
  const branch = compiled.branch;
  return (v) => (v === null || typeof v !== "object" ? v : (v as Record<string, unknown>)[branch]);
}

function isPlaceholderInts(arr: unknown[], unwrap: (v: unknown) => unknown): boolean {
  for (let i = 0; i < arr.length; i++) {
    const x = unwrap(arr[i]);
    if ((typeof x !== "number" && typeof x !== "bigint") || Number(x) !== PLACEHOLDER_BYTES[i]) return false;
  }
  return true;
}

function isMapEntry(name: string | undefined, fields: string[]): boolean {
  return (
    name !== undefined &&
    name.endsWith("MapEntry") &&
    fields.length === 2 &&
    fields[0] === "key" &&
    fields[1] === "value"
  );
}

function fullName(name: string, namespace: string): string {
  return name.includes(".") || namespace === "" ? name : namespace + "." + name;
}

function namespaceOf(node: SchemaObject, enclosing: string): string {
  return typeof node.namespace === "string" ? node.namespace : enclosing;
}

function connectNameOf(node: SchemaObject): string | undefined {
  const name = node["connect.name"];
  return typeof name === "string" ? name : undefined;
}

// ---- primitives -------------------------------------------------------------------------------------------

function primitive(type: string, node: SchemaObject, path: string): Compiled {
  const connectName = connectNameOf(node);
  const logical = typeof node.logicalType === "string" ? node.logicalType : undefined;
  const done = (mapper: Mapper): Compiled => ({ mapper, connectName, avroType: type, branch: type });
  switch (type) {
    case "null":
      return done(() => null);
    case "boolean":
      return done((v) => v as boolean);
    case "int":
      return done(intMapper(connectName, logical, path));
    case "long":
      return done(longMapper(connectName, logical, path));
    case "float":
      return done((v) => shortestFloat32(v as number));
    case "double":
      return done((v) => v as number);
    case "string":
      return done(connectName === "io.debezium.data.Json" ? jsonMapper(path) : stringMapper());
    case "bytes":
      return done(bytesMapper(node, path));
    default:
      throw new DecodeError(`${path || "schema"}: unsupported Avro type ${type}`);
  }
}

function intMapper(name: string | undefined, logical: string | undefined, path: string): Mapper {
  if (
    name === "io.debezium.time.Date" ||
    name === "org.apache.kafka.connect.data.Date" ||
    logical === "date"
  ) {
    return (v) => formatEpochDay(v as number);
  }
  if (
    name === "io.debezium.time.Time" ||
    name === "org.apache.kafka.connect.data.Time" ||
    logical === "time-millis"
  ) {
    return timeOfDay("ms", "milliseconds of the day (Time)", path);
  }
  // int8/int16 (`connect.type`), int32: every Connect integer is a bigint
  return (v) => BigInt(v as number);
}

function longMapper(name: string | undefined, logical: string | undefined, path: string): Mapper {
  switch (name) {
    case "io.debezium.time.MicroTime":
      return timeOfDay("us", "microseconds of the day (MicroTime)", path);
    case "io.debezium.time.NanoTime":
      return timeOfDay("ns", "nanoseconds of the day (NanoTime)", path);
    case "io.debezium.time.Timestamp":
    case "org.apache.kafka.connect.data.Timestamp":
      return timestamp("ms");
    case "io.debezium.time.MicroTimestamp":
      return timestamp("us");
    case "io.debezium.time.NanoTimestamp":
      return timestamp("ns");
  }
  if (name === undefined) {
    // plain Avro logical types (not written by AvroData for Debezium types, but legal in a writer schema)
    if (logical === "timestamp-millis") return timestamp("ms");
    if (logical === "timestamp-micros") return timestamp("us");
    if (logical === "time-micros") return timeOfDay("us", "microseconds of the day (time-micros)", path);
  }
  // plain int64, MicroDuration (µs), …: already bigint (bigintLongType)
  return (v) => v as bigint;
}

function timestamp(unit: TimeUnit): Mapper {
  return (v) => formatEpochTimestamp(v as number | bigint, unit);
}

function timeOfDay(unit: TimeUnit, what: string, path: string): Mapper {
  return (v) => {
    const t = v as number | bigint;
    if (t < 0) throw new DecodeError(`${path}: expected ${what}, got ${String(t)}`);
    return formatTimeOfDay(t, unit);
  };
}

/** A float32 as the shortest decimal that reads back as the same float32 (what Java's Float.toString shows). */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

/** Uuid, Enum, Xml, ZonedTimestamp, Iso*, Interval, decimal string mode, plain strings, Avro enums. */
function stringMapper(): Mapper {
  return (v) => (v === PLACEHOLDER ? UNAVAILABLE : (v as string));
}

function jsonMapper(path: string): Mapper {
  return (v) => {
    const text = v as string;
    if (text === PLACEHOLDER) return UNAVAILABLE;
    let doc: unknown;
    try {
      doc = parseJsonIntegersAsBigint(text);
    } catch (err) {
      throw new DecodeError(`${path}: Json column is not valid JSON (${(err as Error).message})`);
    }
    // hstore (json mode) placeholder
    if (isObject(doc)) {
      const keys = Object.keys(doc);
      if (keys.length === 1 && keys[0] === PLACEHOLDER && doc[PLACEHOLDER] === PLACEHOLDER)
        return UNAVAILABLE;
    }
    return doc as ColumnValue;
  };
}

function isPlaceholderBuffer(b: Buffer): boolean {
  return b.length === PLACEHOLDER_BYTES.length && b.equals(PLACEHOLDER_BYTES);
}

/** bytes / fixed: a Connect Decimal (by name or Avro logicalType) or plain bytes (Uint8Array, own memory). */
function bytesMapper(node: SchemaObject, path: string): Mapper {
  const decimal =
    connectNameOf(node) === "org.apache.kafka.connect.data.Decimal" || node.logicalType === "decimal";
  if (decimal) {
    const scale = decimalScale(node, path);
    return (v) => {
      const b = v as Buffer;
      if (isPlaceholderBuffer(b)) return UNAVAILABLE;
      return formatDecimal(twosComplementToBigInt(b), scale);
    };
  }
  // plain bytes, io.debezium.data.Bits (little-endian bit order, kept as bytes)
  return (v) => {
    const b = v as Buffer;
    if (isPlaceholderBuffer(b)) return UNAVAILABLE;
    // avsc hands out a view of the record's buffer: copy so the value owns its memory
    return new Uint8Array(b);
  };
}

/** The Connect scale parameter wins (AvroData's legacy form of a negative Oracle scale has only that). */
function decimalScale(node: SchemaObject, path: string): number {
  const params = node["connect.parameters"];
  const fromParams = isObject(params) ? params.scale : undefined;
  const raw = fromParams ?? node.scale ?? 0;
  const scale = typeof raw === "string" ? Number(raw) : raw;
  if (typeof scale !== "number" || !Number.isInteger(scale)) {
    throw new DecodeError(`${path}: Decimal schema has an invalid scale ${describe(raw)}`);
  }
  return scale;
}
