// `kcat -C -J` JSON lines (and bare Debezium value lines) → SourceRecord; the binary-safe capture lines
// (`changecast capture`, docs/records.md): base64 key/payload/header fields and writer schema lines.
import { isUtf8 } from "node:buffer";
import { DecodeError, type SourceRecord } from "./change-event.js";
import { describe, hasLoneSurrogate } from "./connect-schema.js";
import { parseJson, stringifyJson } from "./json-text.js";
import { parseKcatLayout, RecordBytes } from "./kcat-fast.js";

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
  const parsed = parseCaptureLine(line, fallbackTopic);
  if (parsed.kind === "schema") {
    throw new DecodeError(`a writer schema line (schema id ${parsed.schemaId}), not a record`);
  }
  return parsed.record;
}

/** One line of a capture: a record, or the writer schema of a schema id its Avro records use. */
export type CaptureLine =
  { kind: "record"; record: SourceRecord } | { kind: "schema"; schemaId: number; schema: string };

/**
 * Parses one line of a capture file or kcat dump: `parseKcatLine`'s records, plus the capture extensions —
 * `"keyEncoding"` / `"payloadEncoding"` / `"headersEncoding": "base64"` (the field holds the exact bytes in
 * base64; `"utf8"` or absent: UTF-8 text as kcat prints it) and writer schema lines `{"schemaId": N, "schema":
 * "<Avro schema JSON>"}`.
 */
export function parseCaptureLine(line: string, fallbackTopic?: string): CaptureLine {
  // kcat's usual layout without the full (often lossless) parse of the record text it holds
  const parsed = parseKcatLayout(line, { payloadBytes: true }) ?? parseJson(line);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new DecodeError(`not a kcat record: expected a JSON object, got ${describe(parsed)}`);
  }
  const obj = parsed as Record<string, unknown>;
  if (KCAT_FIELDS.some((f) => f in obj))
    return { kind: "record", record: kcatRecord(obj, fallbackTopic, line) };
  if ("schemaId" in obj) return schemaLine(obj);
  if (("schema" in obj && "payload" in obj) || "op" in obj) {
    const topic = fallbackTopic ?? derivedTopic(obj);
    if (topic === undefined) {
      throw new DecodeError(
        "Debezium value line without a topic: pass one (--topic), the record's source block names no table",
      );
    }
    const record: SourceRecord = {
      topic,
      partition: 0,
      offset: "-1",
      timestamp: null,
      headers: {},
      key: null,
      value: Buffer.from(line.trim(), "utf8"),
    };
    return { kind: "record", record };
  }
  throw new DecodeError(
    `neither a kcat -J record nor a Debezium value (fields: ${Object.keys(obj).slice(0, 8).join(", ") || "none"})`,
  );
}

function kcatRecord(
  obj: Record<string, unknown>,
  fallbackTopic: string | undefined,
  line: string,
): SourceRecord {
  const topic = typeof obj.topic === "string" && obj.topic !== "" ? obj.topic : fallbackTopic;
  if (topic === undefined) throw new DecodeError(`topic: expected a topic name, got ${describe(obj.topic)}`);
  return {
    topic,
    partition: partitionOf(obj.partition),
    offset: offsetOf(obj.offset),
    timestamp: timestampOf(obj.ts),
    headers: headersOf(obj.headers, encodingOf(obj.headersEncoding, "headersEncoding")),
    key: encodedBytesOf(obj.key, "key", encodingOf(obj.keyEncoding, "keyEncoding"), line),
    value: encodedBytesOf(obj.payload, "payload", encodingOf(obj.payloadEncoding, "payloadEncoding"), line),
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

/** kcat prints ts -1 (or omits it) when the record has no timestamp; past a JS Date's range is none Kafka wrote. */
function timestampOf(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v) && v <= MAX_TIMESTAMP) return v >= 0 ? v : null;
  if (typeof v === "bigint" && v <= BigInt(MAX_TIMESTAMP)) return v >= 0n ? Number(v) : null;
  if (v === undefined || v === null) return null;
  throw new DecodeError(`ts: expected epoch milliseconds, got ${describe(v)}`);
}

/** kcat prints headers as a flat array ["k1","v1","k2","v2"]; an object {k: v} is accepted too. */
function headersOf(v: unknown, encoding: ByteEncoding = "utf8"): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  // base64 header values: the exact bytes, read as UTF-8 text as the Kafka transport reads header values
  const value =
    encoding === "base64"
      ? (val: unknown, name: string) =>
          val === null || val === undefined ? "" : base64Of(val, `headers.${name}`).toString("utf8")
      : (val: unknown) => headerValue(val);
  if (Array.isArray(v)) {
    if (v.length % 2 !== 0)
      throw new DecodeError(`headers: expected [name, value, …] pairs, got an odd count`);
    for (let i = 0; i < v.length; i += 2) {
      const name = headerName(v[i]);
      setHeader(out, name, value(v[i + 1], name));
    }
    return out;
  }
  if (typeof v === "object") {
    for (const [k, val] of Object.entries(v)) setHeader(out, k, value(val, k));
    return out;
  }
  throw new DecodeError(`headers: expected an array or object, got ${describe(v)}`);
}

const MAX_TIMESTAMP = 8.64e15;

/** A header named "__proto__" is a header like any other (plain assignment would set the prototype). */
function setHeader(out: Record<string, string>, name: string, value: string): void {
  if (name === "__proto__") {
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  } else out[name] = value;
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

/**
 * The record bytes as kcat prints them: UTF-8 text, or null; an embedded JSON value (not a string) is its text
 * as written in the line — re-serialising the parsed value would change it (1e400 → null, -0.0 → 0).
 */
function bytesOf(v: unknown, field: string, line: string): Buffer | null {
  if (v === null || v === undefined) return null;
  if (v instanceof RecordBytes) return v.bytes; // Buffer.from(payload, "utf8"), made by parseKcatLayout
  if (typeof v === "string") {
    // an unpaired \uD800-\uDFFF escape has no UTF-8 bytes: encoding it would write U+FFFD instead
    if (hasLoneSurrogate(v)) {
      throw new DecodeError(
        `${field}: a lone surrogate escape (\\uD800-\\uDFFF) cannot be UTF-8 record bytes`,
      );
    }
    return Buffer.from(v, "utf8");
  }
  if (typeof v === "object" || typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") {
    return Buffer.from(memberText(line, field), "utf8");
  }
  throw new DecodeError(`${field}: expected the record bytes as a string or null, got ${describe(v)}`);
}

/**
 * The text of the value of the top-level member `name` of `objectText` (valid JSON, already parsed), exactly as
 * written; of the last such member when it is repeated, as JSON.parse keeps the last.
 */
export function memberText(objectText: string, name: string): string {
  let found: string | undefined;
  let i = skipSpace(objectText, 0);
  if (objectText[i] === "\ufeff") i = skipSpace(objectText, i + 1);
  i = skipSpace(objectText, i + 1); // past "{"
  while (i < objectText.length && objectText[i] !== "}") {
    const keyEnd = stringEnd(objectText, i);
    const key = JSON.parse(objectText.slice(i, keyEnd)) as string;
    const start = skipSpace(objectText, skipSpace(objectText, keyEnd) + 1); // past ":"
    const end = valueEnd(objectText, start);
    if (key === name) found = objectText.slice(start, end);
    i = skipSpace(objectText, end);
    if (objectText[i] === ",") i = skipSpace(objectText, i + 1);
  }
  if (found === undefined) throw new DecodeError(`${name}: not found in the line`);
  return found;
}

function skipSpace(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i);
  return i;
}

/** `i` at an opening quote: the index after the closing one. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 92 /* backslash */) j++;
    else if (c === 34 /* " */) return j + 1;
  }
  return text.length;
}

/** `i` at the start of a JSON value: the index after its end. */
function valueEnd(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return stringEnd(text, i);
  if (first !== "{" && first !== "[") {
    let j = i;
    while (j < text.length && !/[\s,}\]]/.test(text[j] as string)) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') j = stringEnd(text, j) - 1;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return text.length;
}

// ---- capture lines: the binary-safe extension ---------------------------------------------------------------

/** How a capture line holds bytes: UTF-8 text as kcat prints it, or base64 of the exact bytes. */
export type ByteEncoding = "utf8" | "base64";

function encodingOf(v: unknown, field: string): ByteEncoding {
  if (v === undefined || v === null || v === "utf8") return "utf8";
  if (v === "base64") return "base64";
  throw new DecodeError(`${field}: expected "base64" or "utf8", got ${describe(v)}`);
}

function encodedBytesOf(v: unknown, field: string, encoding: ByteEncoding, line: string): Buffer | null {
  if (encoding === "utf8") return bytesOf(v, field, line);
  if (v === null || v === undefined) return null;
  return base64Of(v, field);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Buffer.from alone skips invalid characters, which would silently change the bytes). */
function base64Of(v: unknown, field: string): Buffer {
  if (typeof v !== "string") throw new DecodeError(`${field}: expected base64 text, got ${describe(v)}`);
  if (!BASE64.test(v)) throw new DecodeError(`${field}: not valid base64 (${describe(v)})`);
  return Buffer.from(v, "base64");
}

function schemaLine(obj: Record<string, unknown>): CaptureLine {
  const id = obj.schemaId;
  const schemaId = typeof id === "bigint" ? Number(id) : id;
  if (typeof schemaId !== "number" || !Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new DecodeError(`schemaId: expected a schema id (0 … 4294967295), got ${describe(id)}`);
  }
  if (typeof obj.schema !== "string" || obj.schema.trim() === "") {
    throw new DecodeError(
      `schema: expected the schema id's Avro schema as JSON text, got ${describe(obj.schema)}`,
    );
  }
  return { kind: "schema", schemaId, schema: obj.schema };
}

/** A record as `changecast capture` writes it: the broker's bytes, headers in order (repeats kept). */
export interface CapturedRecord {
  topic: string;
  partition: number;
  /** decimal string */
  offset: string;
  /** epoch ms, null when the record has none */
  timestamp: number | null;
  headers: readonly (readonly [string, Buffer | string])[];
  key: Buffer | null;
  value: Buffer | null;
}

/**
 * One capture line: a `kcat -C -J` line in which a key, payload or the header values that are not valid UTF-8
 * (or all of them with `base64: true`, as for Avro) are written as base64 with `"<field>Encoding": "base64"`.
 * `parseCaptureLine` reads back exactly these bytes.
 */
export function formatCaptureLine(r: CapturedRecord, options: { base64?: boolean } = {}): string {
  const always = options.base64 === true;
  const headerBytes = r.headers.map(
    ([name, v]) => [name, typeof v === "string" ? Buffer.from(v, "utf8") : v] as const,
  );
  const headersB64 = always || headerBytes.some(([, v]) => !isUtf8(v));
  const parts = [
    `"topic":${JSON.stringify(r.topic)}`,
    `"partition":${r.partition}`,
    // the broker's offset as an exact integer literal (offsetOf reads it back as the same decimal string)
    `"offset":${/^\d+$/.test(r.offset) ? r.offset : JSON.stringify(r.offset)}`,
    `"tstype":${r.timestamp === null ? '"none"' : '"create"'}`,
    `"ts":${r.timestamp ?? -1}`,
    `"headers":${JSON.stringify(headerBytes.flatMap(([n, v]) => [n, headersB64 ? v.toString("base64") : v.toString("utf8")]))}`,
  ];
  if (headersB64) parts.push(`"headersEncoding":"base64"`);
  for (const [field, bytes] of [
    ["key", r.key],
    ["payload", r.value],
  ] as const) {
    if (bytes === null) {
      parts.push(`"${field}":null`);
    } else if (always || !isUtf8(bytes)) {
      parts.push(`"${field}":"${bytes.toString("base64")}"`, `"${field}Encoding":"base64"`);
    } else {
      parts.push(`"${field}":${JSON.stringify(bytes.toString("utf8"))}`);
    }
  }
  return `{${parts.join(",")}}`;
}

/** A writer schema line: the Avro schema (JSON text) the registry holds under `schemaId`. */
export function formatSchemaLine(schemaId: number, schema: string): string {
  return `{"schemaId":${schemaId},"schema":${JSON.stringify(schema)}}`;
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
