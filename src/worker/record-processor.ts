// The per-record core of the worker, shared by `run` (embedded and Kafka) and `replay`:
// Debezium record → decode → route → map → coerce/encode → records to publish, or one dead letter.
import type { SourceRecord } from "../decode/change-event.js";
import { decodeDebeziumJson } from "../decode/debezium-json.js";
import type { AvroRecordValue } from "../encode/coerce.js";
import type { EventSchema } from "../encode/event-schema.js";
import { toWireFormat } from "../encode/wire.js";
import { mapChange, MappingError, type TransformSet } from "../map/mapper.js";
import type { EventDeclaration } from "../map/transform-file.js";
import { eventId, formatPosition } from "../publish/event-id.js";
import { DLQ_HEADERS, type PublishedRecord, type RecordView } from "../publish/output-record.js";

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

export type ErrorStage = "DECODE" | "ROUTE" | "MAP" | "ENCODE" | "PUBLISH";

export type Outcome =
  | { kind: "events"; records: PublishedRecord[] }
  | { kind: "filtered"; reason: "tombstone" | "heartbeat" | "transaction" | "no-matching-event" }
  | { kind: "dead-letter"; record: PublishedRecord; stage: ErrorStage; error: Error };

export class RecordProcessor {
  private readonly decode: (record: SourceRecord) => ReturnType<typeof decodeDebeziumJson>;
  private readonly ceSources = new Map<string, string>();
  constructor(private readonly options: ProcessorOptions) {
    this.decode = options.decode ?? ((r) => decodeDebeziumJson(r));
  }

  /** Call once per batch before `process`; a failure here is transient (retry the batch), never a dead letter. */
  async prepare(records: readonly SourceRecord[]): Promise<void> {
    await this.options.prepare?.(records);
  }

  process(record: SourceRecord): Outcome {
    const size = (record.value?.length ?? 0) + (record.key?.length ?? 0);
    if (size > this.options.maxRecordBytes) {
      return this.deadLetter(
        record,
        "DECODE",
        new RecordTooLargeError(
          `source record of ${size} bytes exceeds limits.maxRecordBytes (${this.options.maxRecordBytes})`,
        ),
      );
    }
    let decoded: ReturnType<typeof decodeDebeziumJson>;
    try {
      decoded = this.decode(record);
    } catch (err) {
      return this.deadLetter(record, "DECODE", asError(err));
    }
    if (decoded.kind !== "change") return { kind: "filtered", reason: decoded.kind };
    const change = decoded.event;
    const declarations = this.options.transforms.forTable(change.table);
    if (!declarations) {
      return this.deadLetter(
        record,
        "ROUTE",
        new UnknownTableError(
          `no transform for table "${change.table}" (known: ${this.options.transforms.tables.join(", ") || "none"})`,
        ),
      );
    }
    let mapped: ReturnType<typeof mapChange>;
    try {
      // majors of an event under migration are just more outputs of the same record (same batch, same transaction)
      const transforms = this.options.transforms;
      mapped = mapChange(
        change,
        declarations.filter((d) => transforms.isActive(d)),
      );
    } catch (err) {
      return this.deadLetter(record, "MAP", asError(err));
    }
    if (mapped.length === 0) return { kind: "filtered", reason: "no-matching-event" };

    const records: PublishedRecord[] = [];
    let position: string | undefined;
    let time: string | undefined;
    let source: string | undefined;
    for (const event of mapped) {
      const { declaration } = event;
      const registration = this.options.registrations.get(declaration);
      if (!registration) throw new Error(`internal: schema of ${declaration.name} was not registered`);
      let body: Buffer;
      let coerced: AvroRecordValue;
      try {
        coerced = declaration.schema.coerce(event.fields);
        body = declaration.schema.encode(coerced);
      } catch (err) {
        const error = asError(err);
        return this.deadLetter(
          record,
          "ENCODE",
          new MappingError(`event ${declaration.name}: ${error.message}`, declaration.name, null),
        );
      }
      const value = toWireFormat(registration.id, body);
      if (value.length > this.options.maxEventBytes) {
        return this.deadLetter(
          record,
          "ENCODE",
          new RecordTooLargeError(
            `event ${declaration.name} of ${value.length} bytes exceeds limits.maxEventBytes (${this.options.maxEventBytes})`,
          ),
        );
      }
      position ??= formatPosition(change.position);
      const headers: Record<string, string> = {
        ce_specversion: "1.0",
        ce_id: eventId(change, declaration.name, position),
        ce_type: declaration.schema.fullName,
        ce_source: (source ??= this.ceSource(change.table)),
        ce_time: (time ??= new Date(change.commitTimeMs).toISOString()),
        "content-type": "application/avro",
        changecast_position: position,
      };
      records.push({
        record: {
          topic: declaration.topic,
          key: Buffer.from(event.key, "utf8"),
          value,
          timestamp: change.commitTimeMs,
          headers,
        },
        view: eventView(declaration.topic, event.key, headers, registration, declaration.schema, coerced),
      });
    }
    return { kind: "events", records };
  }

  /** `changecast/<pipeline>/<table>`, made once per table */
  private ceSource(table: string): string {
    let source = this.ceSources.get(table);
    if (source === undefined) {
      source = `changecast/${this.options.pipeline}/${table}`;
      if (this.ceSources.size >= 4096) this.ceSources.clear();
      this.ceSources.set(table, source);
    }
    return source;
  }

  deadLetter(record: SourceRecord, stage: ErrorStage, error: Error): Outcome {
    const headers: Record<string, string> = {
      ...record.headers,
      [DLQ_HEADERS.topic]: record.topic,
      [DLQ_HEADERS.partition]: String(record.partition),
      [DLQ_HEADERS.offset]: record.offset,
      [DLQ_HEADERS.stage]: stage,
      [DLQ_HEADERS.className]: `changecast.${error.name}`,
      [DLQ_HEADERS.message]: error.message,
    };
    const dlq = this.options.deadLetterTopic;
    return {
      kind: "dead-letter",
      stage,
      error,
      record: {
        record: {
          topic: dlq,
          key: record.key,
          value: record.value,
          timestamp: record.timestamp ?? Date.now(),
          headers,
        },
        view: {
          topic: dlq,
          key: record.key ? record.key.toString("utf8") : null,
          headers,
          payload: record.value ? record.value.toString("utf8") : null,
        },
      },
    };
  }
}

/**
 * The JSON view of an event. Its `value` (the rendered Avro value, SPEC §6) is rendered when first read:
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
  return {
    topic,
    key,
    headers,
    subject: registration.subject,
    version: registration.version,
    get value(): unknown {
      if (!done) {
        rendered = schema.render(coerced);
        done = true;
      }
      return rendered;
    },
    set value(v: unknown) {
      rendered = v;
      done = true;
    },
  };
}

export class UnknownTableError extends Error {
  override readonly name = "UnknownTableError";
}
export class RecordTooLargeError extends Error {
  override readonly name = "RecordTooLargeError";
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
