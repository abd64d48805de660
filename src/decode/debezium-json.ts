// Debezium records written by Kafka Connect's JsonConverter → DecodedRecord.
import { isUtf8 } from "node:buffer";
import {
  DecodeError,
  type ColumnValue,
  type DecodedRecord,
  type Row,
  type SourceRecord,
} from "./change-event.js";
import {
  asConnectSchema,
  compileSchema,
  describe,
  jsonToColumnValue,
  type ValueDecoder,
} from "./connect-schema.js";
import { interpretPayload, isRow } from "./envelope.js";
import {
  NEEDS_LOSSLESS,
  parseJson,
  parseJsonIntegersAsBigint,
  parseJsonNative,
  withExactIntegers,
} from "./json-text.js";

export interface DebeziumJsonOptions {
  /** Debezium topic.prefix: pins the heartbeat (`__debezium-heartbeat.<prefix>`) and transaction topics */
  topicPrefix?: string;
}

/**
 * Decodes one Debezium record in JsonConverter form, with schemas (`{"schema","payload"}`: every logical type
 * decoded per change-event.ts) or without (bare payload: values stay as JSON gives them, integer literals as
 * bigint, floats as number, no logical decoding — a Decimal stays its base64 string, a date its day count —
 * except the `__debezium_unavailable_value` string, which becomes UNAVAILABLE).
 *
 * Null value → tombstone; heartbeat and transaction-metadata records are recognised by schema name, by shape
 * and by topic. Anything else that is not a Debezium change event throws DecodeError naming the field.
 */
export function decodeDebeziumJson(record: SourceRecord, options: DebeziumJsonOptions = {}): DecodedRecord {
  try {
    return decodeRecord(record, options);
  } catch (err) {
    // JSON nested deeper than a recursive step can follow: say so, not "Maximum call stack size exceeded"
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new DecodeError("JSON nested too deeply to decode");
    }
    throw err;
  }
}

/** Without a leading UTF-8 byte-order mark (RFC 8259: a parser may ignore it; Jackson does). */
function withoutBom(bytes: Buffer | null): Buffer | null {
  return bytes !== null && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes;
}

function decodeRecord(original: SourceRecord, options: DebeziumJsonOptions): DecodedRecord {
  const key0 = withoutBom(original.key);
  const value0 = withoutBom(original.value);
  const record =
    key0 === original.key && value0 === original.value ? original : { ...original, key: key0, value: value0 };
  // JSON text is UTF-8: other bytes would be decoded with replacement characters, changing the values
  if (record.key !== null && !isUtf8(record.key))
    throw new DecodeError("key: not valid UTF-8 (JSON text is UTF-8)");
  const key = decodeKey(record.key);
  if (record.value === null) return { kind: "tombstone", key };
  if (record.value.length === 0) {
    throw new DecodeError("empty value: not JSON (a tombstone has a null value, not an empty one)");
  }
  if (!isUtf8(record.value)) throw new DecodeError("value: not valid UTF-8 (JSON text is UTF-8)");
  const value = decodeConnectBuffer(record.value, "", valueCache, valueBytesCache);
  if (value.payload === null) return { kind: "tombstone", key };
  if (!isRow(value.payload)) {
    throw new DecodeError(`not a Debezium record: expected a JSON object, got ${describe(value.payload)}`);
  }
  return interpretPayload(value.payload, value.schemaName, key, record.topic, options);
}

// ---- JsonConverter text → payload -------------------------------------------------------------------------

interface ConnectValue {
  /** the Connect schema name, when the record carries a schema */
  schemaName: string | undefined;
  /** decoded payload (schema) or JSON-as-is payload (schemaless) */
  payload: ColumnValue;
}

interface CompiledSchema {
  /** the exact schema text this was compiled from */
  text: string;
  name: string | undefined;
  decode: ValueDecoder;
}

/**
 * Compiled decoders by schema text: JsonConverter writes the same text for the same schema. Keyed by a cheap
 * fingerprint (length + the schema's last characters, where JsonConverter puts the envelope name) and confirmed
 * by comparing the full text in place, so no per-record hashing or copying of the (large) schema text.
 */
type SchemaCache = Map<string, CompiledSchema>;
const valueCache: SchemaCache = new Map();
const keyCache: SchemaCache = new Map();
/** decodeConnectBuffer's: compiled schemas by the byte length of their text, confirmed by comparing bytes */
type BytesCache = Map<number, { bytes: Buffer; compiled: CompiledSchema }[]>;
const valueBytesCache: BytesCache = new Map();
const keyBytesCache: BytesCache = new Map();
const CACHE_LIMIT = 512;
const FINGERPRINT_TAIL = 96;

const SCHEMA_HEAD = /^\s*\{\s*"schema"\s*:\s*/;

const HEAD_BYTES = Buffer.from('{"schema":{', "latin1");
const PAYLOAD_BYTES = Buffer.from('"payload"', "latin1");

/**
 * decodeConnectJson(bytes.toString("utf8")) for JsonConverter's own layout, `{"schema":{…},"payload":P}`
 * (other layouts go there as text), worked on the bytes: the split is found as decodeConnectJson finds it
 * (the characters it looks at are ASCII, which UTF-8 never uses inside a multi-byte sequence), a known
 * schema is compared as bytes instead of being decoded to text, and only P is decoded to text. The
 * candidate "payload" keys are tried from the end (P is usually much shorter than S): the order does not
 * matter, as at most one candidate S is a complete JSON object — one that is cannot be followed by a comma
 * inside another.
 */
function decodeConnectBuffer(
  bytes: Buffer,
  path: string,
  cache: SchemaCache,
  bytesCache: BytesCache,
): ConnectValue {
  if (!startsWith(bytes, HEAD_BYTES)) return decodeConnectJson(bytes.toString("utf8"), path, cache);
  let end = bytes.length - 1;
  while (isWhitespace(bytes[end] as number)) end--;
  if (bytes[end] !== 125 /* } */) return decodeConnectJson(bytes.toString("utf8"), path, cache);
  const schemaStart = HEAD_BYTES.length - 1;
  for (
    let at = bytes.lastIndexOf(PAYLOAD_BYTES, end);
    at >= schemaStart;
    at = at > 0 ? bytes.lastIndexOf(PAYLOAD_BYTES, at - 1) : -1
  ) {
    const schemaEnd = skipWsBackBytes(bytes, at - 1);
    if (bytes[schemaEnd] !== 44 /* , */) continue;
    const colon = skipWsBytes(bytes, at + 9);
    if (bytes[colon] !== 58 /* : */) continue;
    const sEnd = skipWsBackBytes(bytes, schemaEnd - 1) + 1;
    const length = sEnd - schemaStart;
    const known = bytesCache.get(length);
    let compiled = known?.find((c) => bytes.compare(c.bytes, 0, length, schemaStart, sEnd) === 0)?.compiled;
    if (compiled === undefined) {
      const schemaText = bytes.toString("utf8", schemaStart, sEnd);
      let schemaJson: unknown;
      try {
        schemaJson = parseJson(schemaText);
      } catch {
        continue; // the candidate "payload" key sat inside the schema or the payload
      }
      if (schemaJson === null) break;
      compiled = { text: schemaText, ...compile(schemaJson, path) };
      // a copy: the record's buffer is not ours to keep
      const entry = { bytes: Buffer.from(bytes.subarray(schemaStart, sEnd)), compiled };
      if (cachedCount(bytesCache) >= CACHE_LIMIT) bytesCache.clear();
      const list = bytesCache.get(length);
      if (list) list.push(entry);
      else bytesCache.set(length, [entry]);
    }
    const decoded = decodePayload(bytes.toString("utf8", colon + 1, end), compiled.decode);
    if (decoded === NOT_JSON) break; // not the simple two-key shape: the full parse below reports precisely
    return { schemaName: compiled.name, payload: decoded };
  }
  return decodeSlow(bytes.toString("utf8"), path);
}

function startsWith(bytes: Buffer, head: Buffer): boolean {
  if (bytes.length <= head.length) return false;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head[i]) return false;
  return true;
}

function cachedCount(cache: BytesCache): number {
  let n = 0;
  for (const list of cache.values()) n += list.length;
  return n;
}

function isWhitespace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipWsBytes(bytes: Buffer, i: number): number {
  while (isWhitespace(bytes[i] as number)) i++;
  return i;
}

function skipWsBackBytes(bytes: Buffer, i: number): number {
  while (isWhitespace(bytes[i] as number)) i--;
  return i;
}

/**
 * Splits `{"schema":S,"payload":P}` textually so that a known schema S is neither parsed nor compiled again;
 * only P is parsed. A candidate split is accepted only if S is a complete JSON value (cached, or it parses),
 * which makes it the split a full parse would find.
 */
function decodeConnectJson(text: string, path: string, cache: SchemaCache): ConnectValue {
  const head = SCHEMA_HEAD.exec(text);
  if (head === null) return decodeSlow(text, path);
  const schemaStart = head[0].length;
  const end = text.lastIndexOf("}");
  if (!isBlank(text, end + 1)) return decodeSlow(text, path);
  for (
    let at = text.indexOf('"payload"', schemaStart);
    at !== -1 && at < end;
    at = text.indexOf('"payload"', at + 1)
  ) {
    const schemaEnd = skipWsBack(text, at - 1);
    if (text.charCodeAt(schemaEnd) !== 44 /* , */) continue;
    const colon = skipWs(text, at + 9);
    if (text.charCodeAt(colon) !== 58 /* : */) continue;
    const sEnd = skipWsBack(text, schemaEnd - 1) + 1;
    const length = sEnd - schemaStart;
    const fingerprint = length + text.slice(Math.max(schemaStart, sEnd - FINGERPRINT_TAIL), sEnd);
    let compiled = cache.get(fingerprint);
    const schemaText = text.slice(schemaStart, sEnd);
    // string equality is a native memcmp; startsWith would walk char by char
    if (compiled === undefined || compiled.text !== schemaText) {
      let schemaJson: unknown;
      try {
        schemaJson = parseJson(schemaText);
      } catch {
        continue; // the candidate "payload" key sat inside the schema
      }
      if (schemaJson === null) break; // {"schema":null,…}: schemaless, take the slow path
      compiled = { text: schemaText, ...compile(schemaJson, path) };
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(fingerprint, compiled);
    }
    const decoded = decodePayload(text.slice(colon + 1, end), compiled.decode);
    if (decoded === NOT_JSON) break; // not the simple two-key shape: the full parse below reports precisely
    return { schemaName: compiled.name, payload: decoded };
  }
  return decodeSlow(text, path);
}

const NOT_JSON: unique symbol = Symbol("not JSON");

/**
 * Decodes the payload text as `decode(parseJson(text))` would, or NOT_JSON where parseJson throws. Parsed
 * natively, with the decoders recovering unsafe integers from the text (json-text.ts exactInteger); the
 * lossless parse only when that is not possible (or the native parse fails).
 */
function decodePayload(text: string, decode: ValueDecoder): ColumnValue | typeof NOT_JSON {
  let native: unknown;
  try {
    native = parseJsonNative(text);
  } catch {
    return decodeLossless(text, decode);
  }
  const decoded = withExactIntegers(text, () => decode(native));
  return decoded === NEEDS_LOSSLESS ? decodeLossless(text, decode) : decoded;
}

function decodeLossless(text: string, decode: ValueDecoder): ColumnValue | typeof NOT_JSON {
  let payload: unknown;
  try {
    payload = parseJson(text);
  } catch {
    return NOT_JSON;
  }
  return decode(payload);
}

function skipWs(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i);
  return i;
}

function skipWsBack(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(--i);
  return i;
}

function isBlank(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return false;
  }
  return true;
}

/** Full parse: schemaless records, unusual key order, and precise errors. */
function decodeSlow(text: string, path: string): ConnectValue {
  const parsed = parseJsonIntegersAsBigint(text);
  if (isSchemaEnvelope(parsed)) {
    if (parsed.schema === null) return { schemaName: undefined, payload: jsonToColumnValue(parsed.payload) };
    const compiled = compile(parsed.schema, path);
    return { schemaName: compiled.name, payload: compiled.decode(parsed.payload) };
  }
  return { schemaName: undefined, payload: jsonToColumnValue(parsed) };
}

function isSchemaEnvelope(v: unknown): v is { schema: unknown; payload: unknown } {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && "schema" in v && "payload" in v;
}

function compile(schemaJson: unknown, path: string): Omit<CompiledSchema, "text"> {
  const schema = asConnectSchema(schemaJson, path ? path + " schema" : "schema");
  // the record itself may be null (truncate key written with a schema): let the root be optional
  return { name: schema.name, decode: compileSchema({ ...schema, optional: true }, path) };
}

function decodeKey(key: Buffer | null): Row | null {
  if (key === null || key.length === 0) return null;
  const decoded = decodeConnectBuffer(key, "key", keyCache, keyBytesCache).payload;
  if (decoded === null) return null;
  if (!isRow(decoded))
    throw new DecodeError(`key: expected a struct (JSON object), got ${describe(decoded)}`);
  return decoded;
}
