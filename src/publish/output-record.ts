// Records as they leave changecast (SPEC §5), and their JSON view (SPEC §6 replay output).

/** A record ready for a Kafka topic. */
export interface OutputRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  /** epoch ms: the source commit time */
  timestamp: number;
  headers: Record<string, string>;
}

/** The SPEC §6 JSON line of a published record or a dead letter. */
export interface RecordView {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  subject?: string;
  version?: number;
  /** rendered Avro value (events); may be an accessor that renders on first read (record-processor.ts) */
  value?: unknown;
  /** the original payload text (dead letters) */
  payload?: string | null;
}

export interface PublishedRecord {
  record: OutputRecord;
  view: RecordView;
}

/** Kafka Connect's dead-letter header names (errors.deadletterqueue.context.headers.enable=true). */
export const DLQ_HEADERS = {
  topic: "__connect.errors.topic",
  partition: "__connect.errors.partition",
  offset: "__connect.errors.offset",
  stage: "__connect.errors.stage",
  className: "__connect.errors.exception.class.name",
  message: "__connect.errors.exception.message",
} as const;
