// The decoded form of one Debezium record. Everything downstream (map, encode, publish) sees only these
// types, never the Debezium JSON/Avro envelope.

import { ChangecastError } from "../errors.js";

/**
 * Marks a column whose value Debezium did not send (unchanged TOAST column, untouched Oracle LOB):
 * `__debezium_unavailable_value` in any of its type-specific forms. Never emitted as data.
 */
export class Unavailable {
  static readonly instance = new Unavailable();
  private constructor() {}
  toString(): string {
    return "__debezium_unavailable_value";
  }
}
export const UNAVAILABLE = Unavailable.instance;

/**
 * A decoded column value. Conventions (documented in docs/types.md):
 * - Connect int8/int16/int32/int64 → bigint (CEL `int`; exact beyond 2^53); float32/float64 → number (CEL `double`)
 * - Decimal / VariableScaleDecimal / decimal.handling.mode=string → exact decimal string ("1234.56", "0.0825")
 * - io.debezium.time.Date → "YYYY-MM-DD"; Time/MicroTime/NanoTime → "HH:MM:SS[.fff|.ffffff|.fffffffff]"
 * - Timestamp/MicroTimestamp/NanoTimestamp → ISO-8601 UTC string with the source precision ("…T10:15:30.123456Z")
 * - ZonedTimestamp / ZonedTime / Iso* → the string as Debezium sent it (offset kept)
 * - Connect Date/Time/Timestamp (time.precision.mode=connect) → same strings as above (ms precision)
 * - MicroDuration → bigint microseconds; Interval (string mode) → the ISO duration string
 * - Json → the parsed JSON value (objects as plain objects, integers as bigint)
 * - Uuid, Enum, Xml, plain strings → string; bytes, Bits → Uint8Array
 * - arrays → arrays; structs (geometry, …) → plain objects; maps → plain objects
 */
export type ColumnValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Unavailable
  | ColumnValue[]
  | { [name: string]: ColumnValue };

export type Row = { [column: string]: ColumnValue };

export type Operation = "c" | "u" | "d" | "r" | "t" | "m";

/** Debezium transaction block of a data event (`provide.transaction.metadata=true`). */
export interface TransactionRef {
  id: string;
  totalOrder: bigint;
  dataCollectionOrder: bigint;
}

/**
 * Where a change sits in the source database's log. Identical across Debezium re-deliveries of the same
 * change, distinct for distinct changes, and ordered by commit order (see `comparePositions`).
 * Postgres: commit = transaction's commit LSN when known (else the change LSN), change = change LSN.
 * Oracle: commit = commit_scn (else scn), change = scn, plus rs_id/ssn (redo record) to separate rows at one SCN.
 * Snapshot reads share one position; the record key separates them.
 */
export interface SourcePosition {
  connector: "postgresql" | "oracle" | string;
  /** decimal string (LSN or SCN as integer) */
  commit: string;
  /** decimal string */
  change: string;
  /** order of the row inside its transaction (transaction.total_order, Oracle txSeq), 0 when unknown */
  order: bigint;
  /** extra discriminator (Oracle rs_id + ssn), "" when none */
  detail: string;
  snapshot: boolean;
}

/** One row change, decoded. */
export interface ChangeEvent {
  op: Operation;
  /** Debezium names: "<schema>.<table>" (Oracle upper case) */
  table: string;
  before: Row | null;
  after: Row | null;
  /** the decoded Debezium record key struct; null for truncate */
  key: Row | null;
  /** the decoded source block (Oracle SCNs stay strings; int64 fields are bigint) */
  source: Row;
  transaction: TransactionRef | null;
  /** source commit time in epoch milliseconds (source.ts_ms) */
  commitTimeMs: number;
  /** envelope ts_ms (connector processing time), when present */
  processedTimeMs: number | null;
  /** the envelope's ts_ms, ts_us, ts_ns (connector processing time) exactly, null when absent (CEL variables) */
  envelopeTimes?: { ts_ms: bigint | null; ts_us: bigint | null; ts_ns: bigint | null };
  position: SourcePosition;
  /**
   * A primary-key change (Debezium's `__debezium.newkey` header on the delete half, `__debezium.oldkey` on the
   * create half): the old and the new key struct. Absent or null for every other change.
   */
  keyChange?: { old: Row; new: Row } | null;
}

/** What a Debezium record turned out to be. */
export type DecodedRecord =
  | { kind: "change"; event: ChangeEvent }
  /** null value: delete tombstone (log compaction marker); no event, no error */
  | { kind: "tombstone"; key: Row | null }
  | { kind: "heartbeat"; tsMs: number | null }
  /** a Postgres logical-decoding message (`op: "m"`, pg_logical_emit_message): no row change, never an event */
  | { kind: "message"; prefix: string | null }
  | {
      kind: "transaction";
      status: "BEGIN" | "END";
      id: string;
      eventCount: bigint | null;
      dataCollections: { dataCollection: string; eventCount: bigint }[];
      /** the record's ts_ms (Debezium: the transaction's commit time), when present */
      tsMs?: number | null;
    };

/** A record as it arrives from a Kafka topic (or a kcat dump of one). */
export interface SourceRecord {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (int64) */
  offset: string;
  /** record timestamp, epoch ms, when known */
  timestamp: number | null;
  headers: Record<string, string>;
  key: Buffer | null;
  value: Buffer | null;
  /**
   * Set by a reader that could not take its input as a record (a line over limits.maxRecordBytes, bytes that
   * are not UTF-8, a multi-line value never closed): the record is dead-lettered with this error. `value`
   * then holds the input as read, at most its first `value.length` of `bytes` bytes.
   */
  rejected?: { error: Error; bytes: number };
}

/** Raised for input that is not a decodable Debezium record; the worker dead-letters it. */
export class DecodeError extends ChangecastError {
  readonly code = "DECODE_INVALID_RECORD";
  override readonly name = "DecodeError";
}

/** A source record or an event over its size limit (limits.maxRecordBytes / limits.maxEventBytes). */
export class RecordTooLargeError extends ChangecastError {
  override readonly name = "RecordTooLargeError";
  /** DECODE: a source record over limits.maxRecordBytes; ENCODE: an event over limits.maxEventBytes */
  readonly code: "DECODE_TOO_LARGE" | "ENCODE_TOO_LARGE";
  constructor(message: string, stage: "DECODE" | "ENCODE" = "DECODE") {
    super(message);
    this.code = stage === "DECODE" ? "DECODE_TOO_LARGE" : "ENCODE_TOO_LARGE";
  }
}
