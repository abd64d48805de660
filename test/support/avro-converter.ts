// Confluent's AvroConverter, emulated for tests: Debezium JsonConverter text → the Avro schema AvroData derives
// (or the shipped .avsc) → Confluent wire bytes, with a tiny in-memory registry.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import type { ConnectSchema } from "../../src/decode/connect-schema.js";
import { parseJsonIntegersAsBigint } from "../../src/decode/json-text.js";
import { bigintLongType } from "../../src/avro/long.js";
import { toWireFormat } from "../../src/avro/wire.js";
import { FIXTURES } from "./project.js";

// ---- Connect schema → Avro schema, as io.confluent.connect.avro.AvroData (connect.meta.data=true) does -------
// Used for the records whose table/mode has no shipped .avsc; checked against every shipped .avsc below.

export type { ConnectSchema };

export type AvroSchema = string | AvroSchema[] | { [k: string]: unknown };

export const PRIMITIVE: Record<string, string> = {
  int8: "int",
  int16: "int",
  int32: "int",
  int64: "long",
  float32: "float",
  float64: "double",
  // JsonConverter writes FLOAT32/FLOAT64 as "float"/"double"
  float: "float",
  double: "double",
  boolean: "boolean",
  string: "string",
  bytes: "bytes",
};

export const CONNECT_LOGICAL: Record<string, string> = {
  "org.apache.kafka.connect.data.Decimal": "decimal",
  "org.apache.kafka.connect.data.Date": "date",
  "org.apache.kafka.connect.data.Time": "time-millis",
  "org.apache.kafka.connect.data.Timestamp": "timestamp-millis",
};

export function jsonDefault(v: unknown): unknown {
  return typeof v === "bigint" ? Number(v) : v;
}

export class AvroData {
  private readonly defined = new Set<string>();

  /** The Avro type of a Connect schema, ignoring its optionality. */
  type(s: ConnectSchema, namespace: string): AvroSchema {
    if (s.type === "struct") return this.record(s, namespace);
    if (s.type === "array") {
      if (s.items === undefined) throw new Error("array without items");
      return { type: "array", items: this.optional(s.items, namespace) };
    }
    if (s.type === "map") {
      if (s.values === undefined) throw new Error("map without values");
      return { type: "map", values: this.optional(s.values, namespace) };
    }
    const base = PRIMITIVE[s.type];
    if (base === undefined) throw new Error(`no Avro type for ${s.type}`);
    const props: Record<string, unknown> = {};
    if (s.type === "int8" || s.type === "int16") props["connect.type"] = s.type;
    if (s.name === "org.apache.kafka.connect.data.Decimal") {
      props.scale = Number(s.parameters?.scale ?? "0");
      props.precision = Number(s.parameters?.["connect.decimal.precision"] ?? "64");
    }
    if (s.version !== undefined) props["connect.version"] = s.version;
    if (s.doc !== undefined) props["connect.doc"] = s.doc;
    if (s.parameters !== undefined) props["connect.parameters"] = s.parameters;
    if (s.default !== undefined && s.default !== null) props["connect.default"] = jsonDefault(s.default);
    if (s.name !== undefined) props["connect.name"] = s.name;
    const logical = s.name === undefined ? undefined : CONNECT_LOGICAL[s.name];
    if (logical !== undefined) props.logicalType = logical;
    return Object.keys(props).length === 0 ? base : { type: base, ...props };
  }

  /** An item/value/field type: optional Connect schemas become ["null", T] (or [T, "null"] with a default). */
  optional(s: ConnectSchema, namespace: string): AvroSchema {
    const t = this.type(s, namespace);
    if (s.optional !== true) return t;
    return s.default !== undefined && s.default !== null ? [t, "null"] : ["null", t];
  }

  private record(s: ConnectSchema, enclosing: string): AvroSchema {
    if (s.name === undefined) throw new Error("unnamed struct (ConnectDefault) not needed by the fixtures");
    const dot = s.name.lastIndexOf(".");
    const namespace = dot === -1 ? "" : s.name.slice(0, dot);
    const name = s.name.slice(dot + 1);
    if (this.defined.has(s.name)) return namespace === enclosing ? name : s.name;
    this.defined.add(s.name);
    const fields = (s.fields ?? []).map((f) => {
      const field: Record<string, unknown> = { name: f.field, type: this.optional(f, namespace) };
      if (f.optional === true) field.default = f.default ?? null;
      else if (f.default !== undefined && f.default !== null) field.default = jsonDefault(f.default);
      return field;
    });
    const out: Record<string, unknown> = { type: "record", name };
    if (namespace !== enclosing) out.namespace = namespace;
    out.fields = fields;
    if (s.doc !== undefined) out["connect.doc"] = s.doc;
    if (s.version !== undefined) out["connect.version"] = s.version;
    out["connect.name"] = s.name;
    return out;
  }
}

/** The Connect schema of a JsonConverter text (plain numbers: versions and defaults are small). */
export function connectSchemaOf(text: string): ConnectSchema {
  return (JSON.parse(text) as { schema: ConnectSchema }).schema;
}

export function deriveAvroSchema(connect: ConnectSchema): AvroSchema {
  return new AvroData().type(connect, "");
}

// ---- Connect JSON payload → avsc value (unions unwrapped) -------------------------------------------------

export function toAvroValue(type: avro.Type, v: unknown, path: string): unknown {
  switch (type.typeName) {
    case "null":
      return null;
    case "boolean":
    case "string":
      return v;
    case "int":
      return Number(v);
    case "abstract:long":
    case "long":
      return BigInt(v as bigint | number);
    case "float":
    case "double":
      return Number(v);
    case "bytes":
      return Buffer.from(v as string, "base64");
    case "record": {
      const obj = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of (type as avro.types.RecordType).fields) {
        out[f.name] = toAvroValue(f.type as avro.Type, obj[f.name] ?? null, path + "." + f.name);
      }
      return out;
    }
    case "array":
      return (v as unknown[]).map((x) =>
        toAvroValue((type as avro.types.ArrayType).itemsType, x, path + "[]"),
      );
    case "map": {
      const out: Record<string, unknown> = {};
      const values = (type as avro.types.MapType).valuesType as avro.Type;
      for (const [k, x] of Object.entries(v as Record<string, unknown>))
        out[k] = toAvroValue(values, x, path);
      return out;
    }
    case "union:unwrapped": {
      const branches = (type as avro.types.UnwrappedUnionType).types;
      if (v === null) return null;
      const nonNull = branches.filter((b) => b.typeName !== "null");
      if (nonNull.length !== 1) throw new Error(`${path}: ambiguous union`);
      return toAvroValue(nonNull[0] as avro.Type, v, path);
    }
    default:
      throw new Error(`${path}: unexpected Avro type ${type.typeName}`);
  }
}

// ---- the in-memory registry and the AvroConverter stand-in ------------------------------------------------

export class Registry {
  private readonly ids = new Map<string, number>();
  private readonly texts = new Map<number, string>();
  lookups = 0;

  register(schema: AvroSchema): number {
    const text = JSON.stringify(schema);
    let id = this.ids.get(text);
    if (id === undefined) {
      id = 100 + this.ids.size;
      this.ids.set(text, id);
      this.texts.set(id, text);
    }
    return id;
  }

  readonly schemaById = (id: number): Promise<string> => {
    this.lookups++;
    const text = this.texts.get(id);
    if (text === undefined) {
      // what RegistryError / the Confluent client throw: HTTP 404, error code 40403
      return Promise.reject(
        Object.assign(new Error(`Schema ${id} not found`), { status: 404, errorCode: 40403 }),
      );
    }
    return Promise.resolve(text);
  };
}

export const AVRO_DIR = join(FIXTURES, "avro");

export function readAvsc(folder: string, subject: string): AvroSchema | undefined {
  const file = join(AVRO_DIR, folder, subject + ".avsc");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as AvroSchema) : undefined;
}

/** The .avsc AvroConverter registers for this topic's key or value, when the fixtures ship it. */
export function shippedSchema(connector: "postgres" | "oracle", topic: string, part: "key" | "value") {
  return readAvsc(connector, `${topic}-${part}`) ?? readAvsc("common", `${topic}-${part}`);
}

/** Fixture records in another decimal.handling.mode than the shipped table schemas (precise). */
export const OTHER_DECIMAL_MODE = /decimal-(double|string)/;

/** One JsonConverter key/value text → Avro wire bytes, registering the schema. */
export function toAvroBytes(
  text: string | null,
  shipped: AvroSchema | undefined,
  registry: Pick<Registry, "register">,
): { bytes: Buffer | null; used: "shipped" | "derived" | "none" } {
  if (text === null) return { bytes: null, used: "none" };
  const json = parseJsonIntegersAsBigint(text) as { payload: unknown };
  const schema = shipped ?? deriveAvroSchema(connectSchemaOf(text));
  const type = avro.Type.forSchema(schema as avro.Schema, {
    typeHook: (t) => {
      const s: unknown = t;
      const isLong =
        s === "long" || (typeof s === "object" && s !== null && "type" in s && s.type === "long");
      return isLong ? bigintLongType : undefined;
    },
    wrapUnions: false,
  });
  const body = type.toBuffer(toAvroValue(type, json.payload, ""));
  return { bytes: toWireFormat(registry.register(schema), body), used: shipped ? "shipped" : "derived" };
}
