// `kcat -C -J` JSON lines (and bare Debezium value lines) → SourceRecord.
import { DecodeError, type SourceRecord } from "./change-event.js";
import { describe } from "./connect-schema.js";
import { parseJson, stringifyJson } from "./json-text.js";

/** Fields kcat -J prints; any of them marks a line as a kcat record rather than a Debezium value. */
const KCAT_FIELDS = ["topic", "partition", "offset", "tstype", "ts", "broker"];

/**
 * Parses one line. A kcat record `{"topic","partition","offset","tstype","ts","broker","headers","key",
 * "payload"}` keeps its coordinates (offset as a decimal string, exact beyond 2^53); `key`/`payload` are the
 * record bytes as UTF-8 text or null. A line that is itself a Debezium value (`{"schema":…,"payload":…}` or an
 * envelope with `op`) becomes a value-only record on `fallbackTopic`, or on `<source.name>.<schema>.<table>`
 * when no topic is given; such records have partition 0, offset "-1" (unknown) and no key.
 */
export function parseKcatLine(line: string, fallbackTopic?: string): SourceRecord {
  const parsed = parseJson(line);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new DecodeError(`not a kcat record: expected a JSON object, got ${describe(parsed)}`);
  }
  const obj = parsed as Record<string, unknown>;
  if (KCAT_FIELDS.some((f) => f in obj)) return kcatRecord(obj, fallbackTopic);
  if (("schema" in obj && "payload" in obj) || "op" in obj) {
    const topic = fallbackTopic ?? derivedTopic(obj);
    if (topic === undefined) {
      throw new DecodeError(
        "Debezium value line without a topic: pass one (--topic), the record's source block names no table",
      );
    }
    return {
      topic,
      partition: 0,
      offset: "-1",
      timestamp: null,
      headers: {},
      key: null,
      value: Buffer.from(line.trim(), "utf8"),
    };
  }
  throw new DecodeError(
    `neither a kcat -J record nor a Debezium value (fields: ${Object.keys(obj).slice(0, 8).join(", ") || "none"})`,
  );
}

function kcatRecord(obj: Record<string, unknown>, fallbackTopic: string | undefined): SourceRecord {
  const topic = typeof obj.topic === "string" && obj.topic !== "" ? obj.topic : fallbackTopic;
  if (topic === undefined) throw new DecodeError(`topic: expected a topic name, got ${describe(obj.topic)}`);
  return {
    topic,
    partition: partitionOf(obj.partition),
    offset: offsetOf(obj.offset),
    timestamp: timestampOf(obj.ts),
    headers: headersOf(obj.headers),
    key: bytesOf(obj.key, "key"),
    value: bytesOf(obj.payload, "payload"),
  };
}

function partitionOf(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  throw new DecodeError(`partition: expected a partition number, got ${describe(v)}`);
}

function offsetOf(v: unknown): string {
  if (v === undefined || v === null) return "-1";
  if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) return v.toString();
  if (typeof v === "string" && /^-?\d+$/.test(v)) return v;
  throw new DecodeError(`offset: expected an integer offset, got ${describe(v)}`);
}

/** kcat prints ts -1 (or omits it) when the record has no timestamp. */
function timestampOf(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v)) return v >= 0 ? v : null;
  if (typeof v === "bigint") return v >= 0n ? Number(v) : null;
  if (v === undefined || v === null) return null;
  throw new DecodeError(`ts: expected epoch milliseconds, got ${describe(v)}`);
}

/** kcat prints headers as a flat array ["k1","v1","k2","v2"]; an object {k: v} is accepted too. */
function headersOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (Array.isArray(v)) {
    if (v.length % 2 !== 0)
      throw new DecodeError(`headers: expected [name, value, …] pairs, got an odd count`);
    for (let i = 0; i < v.length; i += 2) out[headerName(v[i])] = headerValue(v[i + 1]);
    return out;
  }
  if (typeof v === "object") {
    for (const [k, val] of Object.entries(v)) out[k] = headerValue(val);
    return out;
  }
  throw new DecodeError(`headers: expected an array or object, got ${describe(v)}`);
}

function headerName(v: unknown): string {
  if (typeof v !== "string") throw new DecodeError(`headers: expected a header name, got ${describe(v)}`);
  return v;
}

function headerValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  return stringifyJson(v);
}

/** The record bytes as kcat prints them: UTF-8 text, or null; an embedded JSON value is re-serialised. */
function bytesOf(v: unknown, field: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (typeof v === "object" || typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") {
    return Buffer.from(stringifyJson(v), "utf8");
  }
  throw new DecodeError(`${field}: expected the record bytes as a string or null, got ${describe(v)}`);
}

/** `<source.name>.<source.schema>.<source.table>`, Debezium's default topic for a table. */
function derivedTopic(obj: Record<string, unknown>): string | undefined {
  const envelope = "schema" in obj && "payload" in obj ? obj.payload : obj;
  if (envelope === null || typeof envelope !== "object") return undefined;
  const source = (envelope as Record<string, unknown>).source;
  if (source === null || typeof source !== "object") return undefined;
  const { name, schema, db, table } = source as Record<string, unknown>;
  const ns = typeof schema === "string" && schema !== "" ? schema : db;
  if (typeof name !== "string" || typeof ns !== "string" || typeof table !== "string" || table === "") {
    return undefined;
  }
  return `${name}.${ns}.${table}`;
}
