// Records as they leave changecast (docs/records.md), and their JSON view (docs/records.md replay output).

/** A record ready for a Kafka topic. */
export interface OutputRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  /** epoch ms: the source commit time */
  timestamp: number;
  headers: Record<string, string>;
}

/** The docs/records.md JSON line of a published record or a dead letter. */
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
  /** the original payload bytes in base64, when they are not UTF-8 text (dead letters) */
  payloadBase64?: string;
  /** the original key bytes in base64, when they are not UTF-8 text (dead letters) */
  keyBase64?: string;
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
  /** changecast's stable error code (docs/errors.md), e.g. ENCODE_COERCION; INTERNAL for an unforeseen error */
  code: "changecast_error_code",
  /** what was cut from the dead letter to fit limits.maxEventBytes, e.g. "value: first 1040000 of 5242880 bytes" */
  truncated: "changecast_dlq_truncated",
} as const;
