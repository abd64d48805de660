// The Debezium envelope, whichever converter wrote it: a decoded payload Row → DecodedRecord (change event,
// heartbeat, transaction marker), with the table, transaction and source position worked out.
import {
  DecodeError,
  Unavailable,
  type ChangeEvent,
  type ColumnValue,
  type DecodedRecord,
  type Operation,
  type Row,
  type SourcePosition,
  type TransactionRef,
} from "./change-event.js";
import { describe } from "./connect-schema.js";
import { parseJson } from "./json-text.js";

const HEARTBEAT_SCHEMA = "io.debezium.connector.common.Heartbeat";
const TRANSACTION_SCHEMA = "io.debezium.connector.common.TransactionMetadataValue";
const OPERATIONS: ReadonlySet<string> = new Set(["c", "u", "d", "r", "t", "m"]);

// ---- payload → DecodedRecord ------------------------------------------------------------------------------

export function interpretPayload(
  payload: Row,
  schemaName: string | undefined,
  key: Row | null,
  topic: string,
  options: { topicPrefix?: string },
): DecodedRecord {
  const prefix = options.topicPrefix;
  if (schemaName === HEARTBEAT_SCHEMA) return heartbeat(payload);
  if (schemaName === TRANSACTION_SCHEMA) return transactionMarker(payload);
  if (payload.op !== undefined) {
    // pg_logical_emit_message: no row change (Debezium sends it on <prefix>.message or the table's topic)
    if (payload.op === "m") return message(payload);
    return { kind: "change", event: changeEvent(payload, key) };
  }
  // Without a schema name, the topic says what a record without `op` is: the transaction and heartbeat topics
  // hold markers; a data topic (`<prefix>.<schema>.<table>`) holds change events only, so there such a record is
  // malformed, whatever it looks like. Elsewhere (topics renamed by topic.heartbeat.prefix / topic.transaction)
  // the exact marker shapes are recognised.
  const txTopic = prefix !== undefined ? topic === prefix + ".transaction" : topic.endsWith(".transaction");
  if (txTopic) return transactionMarker(payload);
  const heartbeatTopic =
    prefix !== undefined
      ? topic === "__debezium-heartbeat." + prefix
      : topic.startsWith("__debezium-heartbeat");
  if (heartbeatTopic) return heartbeat(payload);
  const keys = Object.keys(payload);
  if (!isDataTopic(topic, prefix)) {
    if (typeof payload.status === "string" && typeof payload.id === "string")
      return transactionMarker(payload);
    if (keys.length === 1 && keys[0] === "ts_ms") return heartbeat(payload);
  }
  throw new DecodeError(
    `not a Debezium change event: no "op" field (fields: ${keys.slice(0, 8).join(", ") || "none"})`,
  );
}

/** A topic Debezium writes change events to: under the topic prefix, or (prefix unknown) `<a>.<b>.<c>`. */
function isDataTopic(topic: string, prefix: string | undefined): boolean {
  if (prefix !== undefined) return topic.startsWith(prefix + ".");
  const firstDot = topic.indexOf(".");
  return firstDot > 0 && topic.indexOf(".", firstDot + 1) > firstDot + 1;
}

function heartbeat(payload: Row): DecodedRecord {
  return { kind: "heartbeat", tsMs: epochMillis(payload.ts_ms, "ts_ms") };
}

function message(payload: Row): DecodedRecord {
  const block = payload.message;
  const prefix = isRow(block) && typeof block.prefix === "string" ? block.prefix : null;
  return { kind: "message", prefix };
}

/**
 * Milliseconds since the epoch that a JS Date (and a Kafka record timestamp) can hold: 0 to 8.64e15. A time
 * outside that range is no commit time Debezium writes, and would make every later use of it throw.
 */
const MAX_EPOCH_MS = 8_640_000_000_000_000n;
function epochMillis(v: ColumnValue | undefined, path: string): number {
  const ms = requireInt(v, path);
  if (ms < 0n || ms > MAX_EPOCH_MS) {
    throw new DecodeError(
      `${path}: ${ms} is not a time in epoch milliseconds (0 to 8.64e15, a JS Date's range)`,
    );
  }
  return Number(ms);
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
    // the transaction's time (aggregates: the END record's source time)
    tsMs:
      typeof payload.ts_ms === "bigint" || typeof payload.ts_ms === "number" ? Number(payload.ts_ms) : null,
  };
}

/** The row images each operation carries: an event without them is malformed, not "no matching event". */
const REQUIRED_IMAGES: Record<string, "after" | "before" | undefined> = {
  c: "after",
  r: "after",
  u: "after",
  d: "before",
};

function changeEvent(payload: Row, key: Row | null): ChangeEvent {
  const op = payload.op;
  if (typeof op !== "string") throw new DecodeError(`op: expected an operation string, got ${describe(op)}`);
  if (!OPERATIONS.has(op)) throw new DecodeError(`op: unknown operation ${JSON.stringify(op)}`);
  const source = requireRow(payload.source, "source");
  const transaction = transactionRef(payload.transaction);
  const ts = payload.ts_ms;
  const before = optionalRow(payload.before, "before");
  const after = optionalRow(payload.after, "after");
  const required = REQUIRED_IMAGES[op];
  if (required !== undefined && (required === "after" ? after : before) === null) {
    throw new DecodeError(
      `op ${JSON.stringify(op)} without ${required === "after" ? "an after" : "a before"} image ` +
        `(before: ${before === null ? "null" : "row"}, after: ${after === null ? "null" : "row"})`,
    );
  }
  return {
    op: op as Operation,
    table: tableName(source, op),
    before,
    after,
    key,
    source,
    transaction,
    commitTimeMs: epochMillis(source.ts_ms, "source.ts_ms"),
    processedTimeMs: ts === null || ts === undefined ? null : epochMillis(ts, "ts_ms"),
    envelopeTimes: {
      ts_ms: optionalInt(payload.ts_ms, "ts_ms"),
      ts_us: optionalInt(payload.ts_us, "ts_us"),
      ts_ns: optionalInt(payload.ts_ns, "ts_ns"),
    },
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
    change = logPosition(source.lsn, "source.lsn");
    commit = logPosition(firstSequenceLsn(source.sequence), "source.sequence[0]") ?? change;
  } else if (connector === "oracle") {
    change = logPosition(source.scn, "source.scn");
    commit = logPosition(source.commit_scn, "source.commit_scn") ?? change;
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
    // coordinates that are no integers (SQL Server "0000002b:00000d30:0003") order nothing numerically: kept
    // in the detail, so the position stays unique and its commit/change stay comparable integers
    if (!isDecimal(commit) || !isDecimal(change)) {
      detail = [commit, change, detail].filter((x) => x !== undefined && x !== "").join("/");
      commit = change = undefined;
    }
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

const DECIMAL = /^\d+$/;

function isDecimal(v: string | undefined): boolean {
  return v === undefined || DECIMAL.test(v);
}

/**
 * A Postgres LSN / Oracle SCN as the decimal string a position holds (positions are compared as integers):
 * anything else is a DecodeError, not a position that breaks ordering later.
 */
function logPosition(v: ColumnValue | undefined, path: string): string | undefined {
  const text = numeric(v);
  if (text !== undefined && !DECIMAL.test(text)) {
    throw new DecodeError(`${path}: expected a log position (a non-negative integer), got ${describe(v)}`);
  }
  return text;
}

function numeric(v: ColumnValue | undefined): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "bigint" || typeof v === "number") return String(v);
  return undefined;
}

export function isRow(v: ColumnValue | undefined): v is Row {
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
  return v;
}

function optionalRow(v: ColumnValue | undefined, path: string): Row | null {
  return v === null || v === undefined ? null : requireRow(v, path);
}

function requireString(v: ColumnValue | undefined, path: string, what: string): string {
  if (typeof v !== "string") throw new DecodeError(`${path}: expected ${what}, got ${describe(v)}`);
  return v;
}

/** An envelope timestamp (ts_ms, ts_us, ts_ns) for the CEL variables of the same names; null when absent. */
function optionalInt(v: ColumnValue | undefined, path: string): bigint | null {
  return v === null || v === undefined ? null : requireInt(v, path);
}

function requireInt(v: ColumnValue | undefined, path: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw new DecodeError(`${path}: expected an integer, got ${describe(v)}`);
}
