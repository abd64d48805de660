// The per-record core of the worker, shared by `run` (embedded and Kafka) and `replay`:
// Debezium record → decode → route → map → coerce/encode → records to publish, or one dead letter.
import {
  DecodeError,
  RecordTooLargeError,
  type ChangeEvent,
  type DecodedRecord,
  type SourceRecord,
} from "../decode/change-event.js";
import { decodeDebeziumJson } from "../decode/debezium-json.js";
import type { AvroRecordValue } from "../encode/coerce.js";
import type { EventSchema } from "../encode/event-schema.js";
import { isUtf8 } from "node:buffer";
import { toWireFormat } from "../avro/wire.js";
import { mapChange, type MappedEvent, type TransformSet } from "../map/mapper.js";
import type { EventDeclaration } from "../map/transform-file.js";
import { CeSources, ChangeHeaders, deadLetterErrorHeaders, headerBytes } from "../publish/headers.js";
import { DLQ_HEADERS, type PublishedRecord, type RecordView } from "../publish/output-record.js";
import { ChangecastError, type Stage } from "../errors.js";
import { JSON_TEXT } from "../encode/json-fast.js";
import { withLookups } from "../map/lookup.js";
import type { TableStateView } from "../map/table-state.js";
import type { BatchHook } from "./batch-hooks.js";
import { keyChangeOf } from "./key-change.js";
import { refOf } from "./table-state-runtime.js";
import type { HeldChanges, HeldOutcome } from "./held-changes.js";
import type { AggregateEvaluation } from "./aggregates.js";
import { AggregateHeaders } from "../publish/aggregate-headers.js";

/** Where each event's schema is registered (resolved once at start-up). */
export interface EventRegistration {
  id: number;
  subject: string;
  version: number;
}

export interface ProcessorOptions {
  pipeline: string;
  transforms: TransformSet;
  registrations: Map<EventDeclaration, EventRegistration>;
  deadLetterTopic: string;
  maxRecordBytes: number;
  maxEventBytes: number;
  /** decodes one record; the default is Debezium JsonConverter */
  decode?: (record: SourceRecord) => ReturnType<typeof decodeDebeziumJson>;
  /** async work before a batch is decoded (AvroConverter: fetch the writer schemas from the registry) */
  prepare?: (records: readonly SourceRecord[]) => Promise<void>;
}

/** The stages of one record (the dead letter's `__connect.errors.stage`). */
export type ErrorStage = Extract<Stage, "DECODE" | "ROUTE" | "MAP" | "ENCODE" | "PUBLISH">;

export type Outcome =
  | { kind: "events"; records: PublishedRecord[] }
  | {
      kind: "filtered";
      reason: "tombstone" | "heartbeat" | "transaction" | "message" | "no-matching-event";
    }
  | { kind: "dead-letter"; record: PublishedRecord; stage: ErrorStage; error: Error }
  /** held back (parked for its parent, docs/state.md): counted when it is finally mapped, filtered or dead-lettered */
  | { kind: "held"; reason: "parked" };

export class RecordProcessor {
  private readonly decode: (record: SourceRecord) => ReturnType<typeof decodeDebeziumJson>;
  private readonly ceSources: CeSources;
  // the stateful features (docs/state.md): their batch hooks, the table state, records decoded in prepare
  private readonly hooks: BatchHook[] = [];
  private tableState: TableStateView | null = null;
  private held: HeldChanges | null = null;
  private readonly decodedAhead = new Map<SourceRecord, DecodedRecord>();
  constructor(private readonly options: ProcessorOptions) {
    this.ceSources = new CeSources(options.pipeline);
    this.decode = options.decode ?? ((r) => decodeDebeziumJson(r));
  }

  /** Whether `prepare` does anything (AvroConverter sources); without it, it needs no call per record. */
  /** Whether prepare/beforeCommit do anything (a source that fetches schemas, a stateful feature's hooks). */
  get needsPrepare(): boolean {
    return this.options.prepare !== undefined || this.hooks.length > 0;
  }

  /** Call once per batch before `process`; a failure here is transient (retry the batch), never a dead letter. */
  async prepare(records: readonly SourceRecord[]): Promise<void> {
    // records a reader rejected are dead-lettered as they are: nothing of theirs to fetch
    const readable = records.some((r) => r.rejected) ? records.filter((r) => !r.rejected) : records;
    if (readable.length > 0) await this.options.prepare?.(readable);
    if (this.hooks.length === 0) return;
    // the stateful features load what the batch's changes need: decoded once here, used by process()
    const changes = new Map<SourceRecord, ChangeEvent>();
    this.decodedAhead.clear();
    for (const record of readable) {
      const decoded = this.decodeAhead(record);
      if (decoded?.kind === "change") changes.set(record, decoded.event);
    }
    for (const hook of this.hooks) await hook.prepare?.({ records, changes });
  }

  /** The changes of `records` (the bootstrap of the table state); records that do not decode are left out. */
  async decodeChanges(records: readonly SourceRecord[]): Promise<Map<SourceRecord, ChangeEvent>> {
    const readable = records.filter((r) => !r.rejected);
    if (readable.length > 0) await this.options.prepare?.(readable);
    const changes = new Map<SourceRecord, ChangeEvent>();
    for (const record of readable) {
      try {
        const decoded = this.decodeWithKeyChange(record);
        if (decoded.kind === "change") changes.set(record, decoded.event);
      } catch {
        // dead-lettered when the worker processes it
      }
    }
    return changes;
  }

  /** A record decoded (with its key change) for prepare; null when it does not decode (process dead-letters it). */
  private decodeAhead(record: SourceRecord): DecodedRecord | null {
    try {
      const decoded = this.decodeWithKeyChange(record);
      this.decodedAhead.set(record, decoded);
      return decoded;
    } catch {
      return null;
    }
  }

  private decodeWithKeyChange(record: SourceRecord): DecodedRecord {
    const decoded = this.decode(record);
    if (decoded.kind === "change" && Object.keys(record.headers).length > 0) {
      const keyChange = keyChangeOf(record, decoded.event);
      if (keyChange) decoded.event.keyChange = keyChange;
    }
    return decoded;
  }

  /** Adds a stateful feature's batch hooks (docs/state.md); prepare then decodes each batch ahead. */
  use(hook: BatchHook): void {
    this.hooks.push(hook);
  }

  /** The table state that changes of `state: rows` tables are applied to and lookup() reads. */
  useTableState(view: TableStateView): void {
    this.tableState = view;
  }

  /** Records made during process() for other records (released children, completed aggregates). */
  takeExtraOutputs(): PublishedRecord[] {
    const out: PublishedRecord[] = [];
    for (const hook of this.hooks) if (hook.takeOutputs) out.push(...hook.takeOutputs());
    return out;
  }

  /** Whether beforeCommit/abandon do anything: a stateful feature's hooks (docs/state.md). */
  get keepsBatchState(): boolean {
    return this.hooks.some((h) => h.beforeCommit !== undefined || h.abandon !== undefined);
  }

  /** After the batch's outputs are durable, before its offsets are committed: the state writes. */
  async beforeCommit(consumed: readonly SourceRecord[]): Promise<void> {
    for (const hook of this.hooks) await hook.beforeCommit?.(consumed);
  }

  /** The batch was not committed: its in-memory state effects are undone. */
  abandon(): void {
    for (const hook of this.hooks) hook.abandon?.();
    this.decodedAhead.clear();
  }

  /**
   * The outcome of one record; never throws: whatever goes wrong, even an unforeseen error, is the record's
   * dead letter at the stage it happened in, so every record is counted and the run goes on.
   */
  process(record: SourceRecord): Outcome {
    const at: { stage: ErrorStage } = { stage: "DECODE" };
    try {
      return this.processAt(record, at);
    } catch (err) {
      return this.deadLetter(record, at.stage, asError(err));
    } finally {
      // held changes the record released or timed out, aggregates it completed (takeHeldOutcomes)
      this.held?.after(record);
    }
  }

  /** Dependencies and transaction aggregates (docs/state.md): held changes, and what became of them. */
  useHeld(held: HeldChanges): void {
    this.held = held;
    this.hooks.push(held);
    held.attach({
      process: (record) => this.process(record),
      deadLetter: (record, stage, error) => this.deadLetter(record, stage, error),
      decode: (record) => this.decodeWithKeyChange(record),
      prefetch: async (records) => {
        await this.options.prepare?.(records);
      },
      aggregateRecords: (evaluation, map) => this.aggregateRecords(evaluation, map),
    });
  }

  /** How many records are held now (parked, or buffered in incomplete transactions). */
  heldNow(): number {
    const held = this.held?.held;
    return held ? held.parked + held.buffered : 0;
  }

  /** End of a finite input (replay): whatever is still held times out (takeHeldOutcomes then has it). */
  finishHeld(): void {
    this.held?.finish(null);
  }

  /** Released, timed-out and aggregated records since the last call (the caller counts and publishes them). */
  takeHeldOutcomes(): HeldOutcome[] {
    return this.held?.takeOutcomes() ?? [];
  }

  /** ENCODE: the events of an aggregate evaluation, with the aggregate's ce_id (and partial header). */
  private aggregateRecords(evaluation: AggregateEvaluation, map: () => MappedEvent[]): PublishedRecord[] {
    const mapped = this.tableState ? withLookups(this.tableState, map) : map();
    const { txId, rootKey, partial } = evaluation;
    // stamped with the transaction's commit time: an Oracle root change carries the time it was made
    const root =
      evaluation.commitTimeMs !== undefined && evaluation.commitTimeMs !== evaluation.root.commitTimeMs
        ? { ...evaluation.root, commitTimeMs: evaluation.commitTimeMs }
        : evaluation.root;
    const headers = new AggregateHeaders(this.options.pipeline, root, txId, rootKey, partial, this.ceSources);
    return mapped
      .filter((event) => this.options.transforms.isActive(event.declaration))
      .map((event) => this.output(root, event, headers));
  }

  /** The steps of one record; a step that fails throws, and `at` says which stage it failed in. */
  private processAt(record: SourceRecord, at: { stage: ErrorStage }): Outcome {
    if (record.rejected) return this.deadLetter(record, "DECODE", record.rejected.error);
    this.checkRecordSize(record);
    const ahead = this.decodedAhead.get(record);
    if (ahead) this.decodedAhead.delete(record);
    const decoded = ahead ?? this.decodeWithKeyChange(record);
    if (this.held) {
      // a change whose parent row is missing is parked (a require that cannot be evaluated: MAP)
      at.stage = "MAP";
      const held = this.held.admit(record, decoded);
      if (held) return held;
    }
    if (decoded.kind !== "change") return { kind: "filtered", reason: decoded.kind };
    // table state: unavailable columns filled and before supplied from the previous image, the row applied
    const change = this.tableState ? this.tableState.apply(decoded.event, refOf(record)) : decoded.event;
    this.held?.applied(record, change);
    at.stage = "ROUTE";
    const declarations = this.route(change);
    at.stage = "MAP";
    const mapped = this.map(change, declarations);
    if (mapped.length === 0) return { kind: "filtered", reason: "no-matching-event" };
    at.stage = "ENCODE";
    const headers = new ChangeHeaders(change, this.ceSources);
    return { kind: "events", records: mapped.map((event) => this.output(change, event, headers)) };
  }

  /** DECODE: a source record larger than limits.maxRecordBytes is not decoded. */
  private checkRecordSize(record: SourceRecord): void {
    const size = (record.value?.length ?? 0) + (record.key?.length ?? 0);
    if (size > this.options.maxRecordBytes) {
      throw new RecordTooLargeError(
        `source record of ${size} bytes exceeds limits.maxRecordBytes (${this.options.maxRecordBytes})`,
      );
    }
  }

  /** ROUTE: the event declarations of the change's table. */
  private route(change: ChangeEvent): EventDeclaration[] {
    const declarations = this.options.transforms.forTable(change.table);
    if (!declarations) {
      throw new UnknownTableError(
        `no transform for table "${change.table}" (known: ${this.options.transforms.tables.join(", ") || "none"})`,
      );
    }
    return declarations;
  }

  /** MAP: the events of the active declarations that the change matches. */
  private map(change: ChangeEvent, declarations: EventDeclaration[]): MappedEvent[] {
    // majors of an event under migration are just more outputs of the same record (same batch, same transaction)
    const transforms = this.options.transforms;
    const active = declarations.filter((d) => transforms.isActive(d));
    return this.tableState
      ? withLookups(this.tableState, () => mapChange(change, active))
      : mapChange(change, active);
  }

  /** ENCODE: one event as the record to publish — Avro value in the wire format, key, headers, size checked. */
  private output(
    change: ChangeEvent,
    event: MappedEvent,
    changeHeaders: Pick<ChangeHeaders, "forEvent">,
  ): PublishedRecord {
    const { declaration } = event;
    const registration = this.options.registrations.get(declaration);
    if (!registration) throw new Error(`internal: schema of ${declaration.name} was not registered`);
    const { coerced, body } = encodeEvent(event);
    const value = toWireFormat(registration.id, body);
    const headers = changeHeaders.forEvent(declaration.name, declaration.schema.fullName);
    const key = Buffer.from(event.key, "utf8");
    this.checkEventSize(declaration.name, key, value, headers);
    let view: RecordView | undefined;
    return {
      record: { topic: declaration.topic, key, value, timestamp: change.commitTimeMs, headers },
      // made when first read: only replay and the embedded sink print views, the Kafka path never does
      get view(): RecordView {
        return (view ??= eventView(
          declaration.topic,
          event.key,
          headers,
          registration,
          declaration.schema,
          coerced,
        ));
      },
    };
  }

  /** ENCODE: what the broker's max.message.bytes counts is the whole record, not the value alone. */
  private checkEventSize(
    eventName: string,
    key: Buffer,
    value: Buffer,
    headers: Record<string, string>,
  ): void {
    const size = key.length + value.length + headerBytes(headers) + RECORD_OVERHEAD;
    if (size > this.options.maxEventBytes) {
      throw new RecordTooLargeError(
        `event ${eventName} of ${size} bytes (key, value and headers) exceeds limits.maxEventBytes (${this.options.maxEventBytes})`,
        "ENCODE",
      );
    }
  }

  /**
   * The dead letter of `record`: its key, value and headers plus Kafka Connect's error headers, cut to fit
   * limits.maxEventBytes (the broker's max.message.bytes) so that it can always be published — the value
   * first, then the key, then the copied headers — with what was cut said in DLQ_HEADERS.truncated.
   */
  deadLetter(record: SourceRecord, stage: ErrorStage, error: Error): Outcome {
    const errorHeaders = deadLetterErrorHeaders(record, stage, error);
    const fitted = fitDeadLetter(record, errorHeaders, this.options.maxEventBytes);
    const dlq = this.options.deadLetterTopic;
    const { key, value, headers } = fitted;
    return {
      kind: "dead-letter",
      stage,
      error,
      record: {
        record: { topic: dlq, key, value, timestamp: record.timestamp ?? Date.now(), headers },
        view: {
          topic: dlq,
          key: key ? key.toString("utf8") : null,
          headers,
          payload: value ? value.toString("utf8") : null,
          // bytes that are not UTF-8 cannot be shown as text unchanged: the exact bytes too
          ...(key && !isUtf8(key) ? { keyBase64: key.toString("base64") } : {}),
          ...(value && !isUtf8(value) ? { payloadBase64: value.toString("base64") } : {}),
        },
      },
    };
  }
}

/** An error message is cut to this many bytes in its header (a message names fields, never carries data). */
const MAX_MESSAGE_BYTES = 4096;
/** Room for the Kafka record and batch framing around key, value and headers. */
const RECORD_OVERHEAD = 256;

/** Key, value and headers of a dead letter, cut (and the cut said) to fit `maxBytes` on the wire. */
function fitDeadLetter(
  record: SourceRecord,
  errorHeaders: Record<string, string>,
  maxBytes: number,
): { key: Buffer | null; value: Buffer | null; headers: Record<string, string> } {
  let key = record.key;
  let value = record.value;
  let copied: Record<string, string> = record.headers;
  const cuts: string[] = [];
  const budget = Math.max(0, maxBytes - RECORD_OVERHEAD);
  // the message: at most MAX_MESSAGE_BYTES, and never more than half the room (it names things, it is no data)
  const message = errorHeaders[DLQ_HEADERS.message] ?? "";
  const otherErrorBytes = headerBytes(errorHeaders) - Buffer.byteLength(message);
  const reserve = Buffer.byteLength(DLQ_HEADERS.truncated) + 160; // the truncation header, at its longest
  const messageRoom = Math.min(MAX_MESSAGE_BYTES, Math.floor(budget / 2) - otherErrorBytes - reserve);
  errorHeaders[DLQ_HEADERS.message] = utf8Prefix(message, Math.max(0, messageRoom));
  const errorBytes = headerBytes(errorHeaders) + reserve;
  if (headerBytes(copied) + errorBytes > budget / 2) {
    cuts.push(`source headers: ${Object.keys(copied).length} dropped`);
    copied = {};
  }
  let room = budget - errorBytes - headerBytes(copied);
  // a reader that kept only the beginning of an over-long input has cut the value already
  const valueBytes = record.rejected?.bytes ?? value?.length ?? 0;
  const keyBytes = key?.length ?? 0;
  if (value && keyBytes + value.length > room) {
    value = value.subarray(0, utf8Boundary(value, Math.max(0, room - keyBytes)));
  }
  if (value && value.length < valueBytes) cuts.unshift(`value: first ${value.length} of ${valueBytes} bytes`);
  room -= value?.length ?? 0;
  if (key && key.length > room) {
    const keep = utf8Boundary(key, Math.max(0, room));
    cuts.push(`key: first ${keep} of ${key.length} bytes`);
    key = key.subarray(0, keep);
  }
  const headers: Record<string, string> = { ...copied, ...errorHeaders };
  if (cuts.length > 0) headers[DLQ_HEADERS.truncated] = cuts.join("; ");
  return { key, value, headers };
}

/** The largest length ≤ `max` that does not cut a UTF-8 sequence of `bytes` in two. */
function utf8Boundary(bytes: Buffer, max: number): number {
  if (max >= bytes.length) return bytes.length;
  let end = max;
  // step back over continuation bytes (10xxxxxx) to the start of the cut character
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return end;
}

/** `text` cut to at most `max` UTF-8 bytes, marked with "…" when cut. */
function utf8Prefix(text: string, max: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  if (max < 3) return "";
  return bytes.subarray(0, utf8Boundary(bytes, max - 3)).toString("utf8") + "…";
}

/**
 * The JSON view of an event. Its `value` (the rendered Avro value, docs/records.md) is rendered when first read:
 * only replay and the embedded sink print views, the Kafka path never reads it.
 */
function eventView(
  topic: string,
  key: string,
  headers: Record<string, string>,
  registration: EventRegistration,
  schema: EventSchema,
  coerced: AvroRecordValue,
): RecordView {
  let rendered: unknown;
  let done = false;
  let replaced = false;
  const get = (): unknown => {
    if (!done) {
      rendered = schema.render(coerced);
      done = true;
    }
    return rendered;
  };
  const set = (v: unknown): void => {
    rendered = v;
    done = true;
    replaced = true;
  };
  const view = { topic, key, headers, subject: registration.subject, version: registration.version };
  // an accessor like one of an object literal (enumerable, configurable), whose getter the JSON text knows
  Object.defineProperty(view, "value", { get, set, enumerable: true, configurable: true });
  // printing the view writes the value's JSON straight from the Avro value, while `value` is still this
  // accessor and was never set
  const valueJson = (): string | undefined =>
    !replaced && Object.getOwnPropertyDescriptor(view, "value")?.get === get
      ? schema.renderJson(coerced)
      : undefined;
  Object.defineProperty(view, JSON_TEXT, {
    value: (member: string): string | undefined => {
      if (member === "value") return valueJson();
      if (member === "headers") return stringHeadersJson(view.headers);
      return member === "" ? pristineViewJson(view, valueJson) : undefined;
    },
  });
  return view as RecordView;
}

const VIEW_KEYS = ["topic", "key", "headers", "subject", "version", "value"];

/**
 * The JSON text of an event view as it was made (its own members, in order, the value not replaced), as
 * stringifyJson writes it; undefined for a view changed since.
 */
function pristineViewJson(view: RecordView, valueJson: () => string | undefined): string | undefined {
  const keys = Object.keys(view);
  if (keys.length !== VIEW_KEYS.length || keys.some((k, i) => k !== VIEW_KEYS[i])) return undefined;
  const { topic, key, subject, version } = view;
  if (typeof topic !== "string" || typeof key !== "string" || typeof subject !== "string") return undefined;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || Object.is(version, -0))
    return undefined;
  const headers = stringHeadersJson(view.headers);
  const value = valueJson();
  if (headers === undefined || value === undefined) return undefined;
  return (
    `{"topic":${JSON.stringify(topic)},"key":${JSON.stringify(key)},"headers":${headers},` +
    `"subject":${JSON.stringify(subject)},"version":${version},"value":${value}}`
  );
}

/** The JSON text of headers whose values are all strings (as events' are), as stringifyJson writes it. */
function stringHeadersJson(headers: Record<string, string>): string | undefined {
  if (headers === null || typeof headers !== "object" || Object.getPrototypeOf(headers) !== Object.prototype)
    return undefined;
  if (typeof (headers as { toJSON?: unknown }).toJSON === "function") return undefined;
  for (const name in headers) if (typeof headers[name] !== "string") return undefined;
  // a plain object of strings: JSON.stringify writes every member as stringifyJson does
  return JSON.stringify(headers);
}

export class UnknownTableError extends ChangecastError {
  readonly code = "ROUTE_UNKNOWN_TABLE";
  override readonly name = "UnknownTableError";
}
export { RecordTooLargeError };

/** An encode failure that is no changecast error of its own (an Avro library error, a bug): ENCODE_FAILED. */
export class EncodeError extends ChangecastError {
  override readonly name = "EncodeError";
  readonly code = "ENCODE_FAILED";
}

/** The event's fields coerced to its Avro schema, and encoded; a failure is the event's encode error. */
function encodeEvent(event: MappedEvent): { coerced: AvroRecordValue; body: Buffer } {
  const { schema, name } = event.declaration;
  try {
    const coerced = schema.coerce(event.fields);
    return { coerced, body: schema.encode(coerced) };
  } catch (err) {
    throw encodeFailure(name, err);
  }
}

/**
 * The error of an event that could not be coerced or encoded: the error itself (CoercionError …, so that the
 * dead letter names its real class), its message prefixed with the event; anything else as EncodeError.
 */
function encodeFailure(eventName: string, err: unknown): Error {
  if (err instanceof ChangecastError) {
    err.message = `event ${eventName}: ${err.message}`;
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EncodeError(`event ${eventName}: ${message}`, { cause: err });
}

function asError(err: unknown): Error {
  // a stack overflow (input nested too deeply for some recursive step) says so, not "Maximum call stack …"
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new DecodeError(`nested too deeply to process (${err.message})`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
