// Debezium records written by Kafka Connect's JsonConverter → DecodedRecord.
import {
  DecodeError,
  Unavailable,
  type ChangeEvent,
  type ColumnValue,
  type DecodedRecord,
  type Operation,
  type Row,
  type SourcePosition,
  type SourceRecord,
  type TransactionRef,
} from "./change-event.js";
import {
  asConnectSchema,
  compileSchema,
  describe,
  jsonToColumnValue,
  type ValueDecoder,
} from "./connect-schema.js";
import { parseJson, parseJsonIntegersAsBigint } from "./json-text.js";

export interface DebeziumJsonOptions {
  /** Debezium topic.prefix: pins the heartbeat (`__debezium-heartbeat.<prefix>`) and transaction topics */
  topicPrefix?: string;
}

const HEARTBEAT_SCHEMA = "io.debezium.connector.common.Heartbeat";
const TRANSACTION_SCHEMA = "io.debezium.connector.common.TransactionMetadataValue";
const OPERATIONS: ReadonlySet<string> = new Set(["c", "u", "d", "r", "t", "m"]);

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
  const key = decodeKey(record.key);
  if (record.value === null) return { kind: "tombstone", key };
  const value = decodeConnectJson(record.value.toString("utf8"), "", valueCache);
  if (value.payload === null) return { kind: "tombstone", key };
  if (!isRow(value.payload)) {
    throw new DecodeError(`not a Debezium record: expected a JSON object, got ${describe(value.payload)}`);
  }
  const payload = value.payload;
  const topic = record.topic;
  const prefix = options.topicPrefix;

  if (value.schemaName === HEARTBEAT_SCHEMA) return heartbeat(payload);
  if (value.schemaName === TRANSACTION_SCHEMA) return transactionMarker(payload);
  if (payload.op !== undefined) return { kind: "change", event: changeEvent(payload, key) };

  const txTopic = prefix !== undefined ? topic === prefix + ".transaction" : topic.endsWith(".transaction");
  if (txTopic || (typeof payload.status === "string" && typeof payload.id === "string")) {
    return transactionMarker(payload);
  }
  const heartbeatTopic =
    prefix !== undefined
      ? topic === "__debezium-heartbeat." + prefix
      : topic.startsWith("__debezium-heartbeat");
  const keys = Object.keys(payload);
  if (heartbeatTopic || (keys.length === 1 && keys[0] === "ts_ms")) return heartbeat(payload);
  throw new DecodeError(
    `not a Debezium change event: no "op" field (fields: ${keys.slice(0, 8).join(", ") || "none"})`,
  );
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
const CACHE_LIMIT = 512;
const FINGERPRINT_TAIL = 96;

const SCHEMA_HEAD = /^\s*\{\s*"schema"\s*:\s*/;

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
    let payload: unknown;
    try {
      payload = parseJson(text.slice(colon + 1, end));
    } catch {
      break; // not the simple two-key shape: the full parse below reports precisely
    }
    return { schemaName: compiled.name, payload: compiled.decode(payload) };
  }
  return decodeSlow(text, path);
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
  const decoded = decodeConnectJson(key.toString("utf8"), "key", keyCache).payload;
  if (decoded === null) return null;
  if (!isRow(decoded))
    throw new DecodeError(`key: expected a struct (JSON object), got ${describe(decoded)}`);
  return decoded;
}

// ---- payload → DecodedRecord ------------------------------------------------------------------------------

function heartbeat(payload: Row): DecodedRecord {
  const ts = payload.ts_ms;
  if (ts !== null && ts !== undefined && typeof ts !== "bigint" && typeof ts !== "number") {
    throw new DecodeError(`ts_ms: expected epoch milliseconds (heartbeat), got ${describe(ts)}`);
  }
  return { kind: "heartbeat", tsMs: ts === null || ts === undefined ? null : Number(ts) };
}

function transactionMarker(payload: Row): DecodedRecord {
  const raw = payload.status;
  const status = raw === "BEGIN" ? "BEGIN" : raw === "END" ? "END" : undefined;
  if (status === undefined) {
    throw new DecodeError(`status: expected "BEGIN" or "END" (transaction metadata), got ${describe(raw)}`);
  }
  const id = requireString(payload.id, "id", "a transaction id");
  const count = payload.event_count;
  const collections = payload.data_collections;
  const dataCollections: { dataCollection: string; eventCount: bigint }[] = [];
  if (Array.isArray(collections)) {
    collections.forEach((c, i) => {
      const row = requireRow(c, `data_collections[${i}]`);
      dataCollections.push({
        dataCollection: requireString(
          row.data_collection,
          `data_collections[${i}].data_collection`,
          "a string",
        ),
        eventCount: requireInt(row.event_count, `data_collections[${i}].event_count`),
      });
    });
  } else if (collections !== null && collections !== undefined) {
    throw new DecodeError(`data_collections: expected array, got ${describe(collections)}`);
  }
  return {
    kind: "transaction",
    status,
    id,
    eventCount: count === null || count === undefined ? null : requireInt(count, "event_count"),
    dataCollections,
  };
}

function changeEvent(payload: Row, key: Row | null): ChangeEvent {
  const op = payload.op;
  if (typeof op !== "string") throw new DecodeError(`op: expected an operation string, got ${describe(op)}`);
  if (!OPERATIONS.has(op)) throw new DecodeError(`op: unknown operation ${JSON.stringify(op)}`);
  const source = requireRow(payload.source, "source");
  const transaction = transactionRef(payload.transaction);
  const ts = payload.ts_ms;
  return {
    op: op as Operation,
    table: tableName(source, op),
    before: optionalRow(payload.before, "before"),
    after: optionalRow(payload.after, "after"),
    key,
    source,
    transaction,
    commitTimeMs: Number(requireInt(source.ts_ms, "source.ts_ms")),
    processedTimeMs: ts === null || ts === undefined ? null : Number(requireInt(ts, "ts_ms")),
    position: positionOf(source, transaction),
  };
}

function tableName(source: Row, op: string): string {
  const table = source.table;
  const schema = typeof source.schema === "string" && source.schema !== "" ? source.schema : source.db;
  if (typeof table !== "string" || table === "") {
    // logical-decoding messages (op m) belong to no table
    if (op === "m") return "";
    throw new DecodeError(`source.table: expected the captured table name, got ${describe(table)}`);
  }
  return typeof schema === "string" && schema !== "" ? schema + "." + table : table;
}

function transactionRef(v: ColumnValue | undefined): TransactionRef | null {
  if (v === null || v === undefined) return null;
  const row = requireRow(v, "transaction");
  return {
    id: requireString(row.id, "transaction.id", "a transaction id"),
    totalOrder: requireInt(row.total_order, "transaction.total_order"),
    dataCollectionOrder: requireInt(row.data_collection_order, "transaction.data_collection_order"),
  };
}

/** Where the change sits in the source log (see SourcePosition). */
function positionOf(source: Row, tx: TransactionRef | null): SourcePosition {
  const connector = typeof source.connector === "string" ? source.connector : "unknown";
  const snapshotField = source.snapshot;
  const snapshot = snapshotField === true || (typeof snapshotField === "string" && snapshotField !== "false");
  const txSeq = source.txSeq;
  const order = tx !== null ? tx.totalOrder : typeof txSeq === "bigint" ? txSeq : 0n;
  let commit: string | undefined;
  let change: string | undefined;
  let detail = "";
  if (connector === "postgresql") {
    change = numeric(source.lsn);
    commit = firstSequenceLsn(source.sequence) ?? change;
  } else if (connector === "oracle") {
    change = numeric(source.scn);
    commit = numeric(source.commit_scn) ?? change;
    const rsId = numeric(source.rs_id);
    if (rsId !== undefined) detail = rsId + "/" + (numeric(source.ssn) ?? "0");
  } else {
    // best effort for other connectors: the first log coordinate present
    commit =
      numeric(source.commit_lsn) ?? numeric(source.commit_scn) ?? numeric(source.lsn) ?? numeric(source.scn);
    change = numeric(source.change_lsn) ?? numeric(source.lsn) ?? numeric(source.scn) ?? numeric(source.pos);
    commit ??= change;
    const file = numeric(source.file);
    if (file !== undefined) detail = file + "/" + (numeric(source.row) ?? "0");
  }
  return { connector, commit: commit ?? "0", change: change ?? commit ?? "0", order, detail, snapshot };
}

/** PG `source.sequence` is a JSON array inside a string: `["<last commit LSN>","<LSN>"]`. */
function firstSequenceLsn(sequence: ColumnValue | undefined): string | undefined {
  if (typeof sequence !== "string" || sequence === "") return undefined;
  let parsed: unknown;
  try {
    parsed = parseJson(sequence);
  } catch {
    throw new DecodeError(`source.sequence: expected a JSON array of LSNs, got ${describe(sequence)}`);
  }
  if (!Array.isArray(parsed)) {
    throw new DecodeError(`source.sequence: expected a JSON array of LSNs, got ${describe(sequence)}`);
  }
  const first: unknown = parsed[0];
  return typeof first === "string" || typeof first === "number" || typeof first === "bigint"
    ? String(first)
    : undefined;
}

function numeric(v: ColumnValue | undefined): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "bigint" || typeof v === "number") return String(v);
  return undefined;
}

function isRow(v: ColumnValue | undefined): v is Row {
  return (
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Unavailable)
  );
}

function requireRow(v: ColumnValue | undefined, path: string): Row {
  if (!isRow(v)) {
    throw new DecodeError(`${path}: expected struct object, got ${describe(v)}`);
  }
  return v as Row;
}

function optionalRow(v: ColumnValue | undefined, path: string): Row | null {
  return v === null || v === undefined ? null : requireRow(v, path);
}

function requireString(v: ColumnValue | undefined, path: string, what: string): string {
  if (typeof v !== "string") throw new DecodeError(`${path}: expected ${what}, got ${describe(v)}`);
  return v;
}

function requireInt(v: ColumnValue | undefined, path: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw new DecodeError(`${path}: expected an integer, got ${describe(v)}`);
}
