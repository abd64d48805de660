// Backfill (Kafka mode): re-derives the new major's history from the Debezium source topics of the event's
// table. A throw-away consumer group (never the worker's) reads each source partition from the beginning up to
// a bound taken at the start; each record is mapped by a processor that knows only the new major; facts whose
// ce_id is already on the new topic are skipped; the rest are published with an idempotent producer exactly as
// the worker publishes them (key, headers, timestamp). A re-run after a crash publishes only what is missing.
//
// The bound per source partition is the lower of its high watermark and the worker group's committed offset:
// what lies below the worker's committed offset was processed by the worker, so if it was processed after
// `migrate start` its new-major fact is on the new topic already (the worker commits only after publishing) and
// the ce_id check finds it. Records the worker has not committed yet are left to the worker, which publishes
// both majors now — reading them here would race with it and publish their facts twice.
import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type KafkaConfig,
  type KafkaMessage,
  type Producer,
} from "kafkajs";
import type { SourcePosition } from "../decode/change-event.js";
import { compressionType } from "../kafka/compression.js";
import { parsePosition } from "../publish/event-id.js";
import { CLIENT_RETRY } from "../kafka/kafka-client.js";
import { consumerGroupId, FETCH_LIMITS, topicMessages, toSourceRecord } from "../kafka/kafka-transport.js";
import type { PublishedRecord } from "../publish/output-record.js";
import {
  etaSeconds,
  newMajorProcessor,
  selectBackfillEvents,
  startProgress,
  type BackfillOptions,
  type BackfillProgress,
} from "./backfill.js";
import type { KafkaGroupTiming, TopicAccess } from "./topics.js";
import type { RecordProcessor } from "../worker/record-processor.js";

export interface KafkaBackfillOptions extends Pick<
  BackfillOptions,
  "config" | "registry" | "transforms" | "event" | "major" | "from" | "signal"
> {
  /** kafkajs client config (see kafkaClientConfig) */
  client: KafkaConfig;
  /** reads the new topic's ce_ids (KafkaTopicAccess.snapshot: up to its high watermarks, read_committed) */
  access: Pick<TopicAccess, "snapshot">;
  /** session timing and fetch wait of the throw-away reader group (consumerTiming) */
  timing?: KafkaGroupTiming & { maxWaitTimeInMs?: number };
  /** progress is reported every this many source records read (and at the end); default 500 */
  progressEvery?: number;
  onProgress?: (p: BackfillProgress) => void;
  /** one line per notable decision (the bound per partition, topics that do not exist) */
  onNote?: (line: string) => void;
}

/** The part of one source partition the backfill reads: offsets [from, end). */
export interface SourceRange {
  topic: string;
  partition: number;
  from: bigint;
  end: bigint;
  highWatermark: bigint;
  /** the worker group's committed offset (null: nothing committed) */
  workerCommitted: bigint | null;
}

/**
 * Per source partition: from the low watermark to min(high watermark, the worker group's committed offset).
 * A missing topic is skipped (asking kafkajs for its offsets would auto-create it).
 */
export async function sourceRanges(
  admin: Admin,
  topics: string[],
  workerGroup: string,
  note: (line: string) => void = () => undefined,
): Promise<SourceRange[]> {
  const existing = new Set(await admin.listTopics());
  const ranges: SourceRange[] = [];
  for (const topic of topics) {
    if (!existing.has(topic)) {
      note(`source topic ${topic} does not exist: nothing to read`);
      continue;
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    const committed = new Map<number, bigint>();
    for (const t of await admin.fetchOffsets({ groupId: workerGroup, topics: [topic] }))
      for (const p of t.partitions) if (BigInt(p.offset) >= 0n) committed.set(p.partition, BigInt(p.offset));
    for (const o of offsets) {
      const low = BigInt(o.low);
      const high = BigInt(o.high);
      const done = committed.get(o.partition) ?? null;
      const bound = done === null ? low : done < high ? done : high;
      ranges.push({
        topic,
        partition: o.partition,
        from: low,
        end: bound > low ? bound : low,
        highWatermark: high,
        workerCommitted: done,
      });
    }
  }
  return ranges.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

export async function backfillKafka(options: KafkaBackfillOptions): Promise<BackfillProgress> {
  const { config } = options;
  const note = options.onNote ?? (() => undefined);
  const { topic, transforms, processor } = await newMajorProcessor(options);
  const topics = transforms.tables.map((table) => `${config.source.topicPrefix}.${table}`).sort();
  const kafka = new Kafka({ ...options.client, logLevel: logLevel.NOTHING });
  // the bound first, the new topic's ce_ids after: every fact the worker published below the bound is read
  const ranges = await readRanges(kafka, topics, config.pipeline, note);
  noteRanges(ranges, note);
  const present = await presentCeIds(options.access, topic);
  const from = options.from ? parsePosition(options.from) : null;
  const progress = startProgress(Number(ranges.reduce((sum, r) => sum + (r.end - r.from), 0n)));
  const reporter = new ProgressReporter(progress, options.progressEvery ?? 500, options.onProgress);
  const reading = new RangeReading(ranges, processor, from, present, progress);
  if (reading.remaining.size > 0 && !options.signal?.aborted) {
    await readAndPublish(kafka, options, reading, reporter);
  }
  progress.done = reading.remaining.size === 0;
  // the estimate counted offsets, some of which are transaction markers rather than records
  if (progress.done) progress.total = progress.read;
  reporter.report();
  return { ...progress };
}

/** The source ranges, read with an admin client of its own. */
async function readRanges(
  kafka: Kafka,
  topics: string[],
  pipeline: string,
  note: (line: string) => void,
): Promise<SourceRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await sourceRanges(admin, topics, consumerGroupId(pipeline), note);
  } finally {
    await admin.disconnect();
  }
}

/** One line per source partition: what is read, and what is left to the worker. */
function noteRanges(ranges: SourceRange[], note: (line: string) => void): void {
  for (const r of ranges) {
    const behind = r.highWatermark - r.end;
    note(
      `${r.topic}[${r.partition}]: offsets ${r.from}..${r.end}` +
        (r.workerCommitted === null
          ? ` (the worker has committed nothing here; it publishes both majors when it gets there)`
          : behind > 0n
            ? ` (${behind} records the worker has not committed yet are left to it)`
            : ""),
    );
  }
}

/** The ce_ids the new topic carries already. */
async function presentCeIds(access: Pick<TopicAccess, "snapshot">, topic: string): Promise<Set<string>> {
  const present = new Set<string>();
  for (const p of (await access.snapshot(topic)).partitions) for (const r of p.records) present.add(r.ceId);
  return present;
}

/** Reports progress every `every` records read, and at the end. */
class ProgressReporter {
  private readonly started = Date.now();
  private reported = 0;
  private last = "";
  constructor(
    private readonly progress: BackfillProgress,
    private readonly every: number,
    private readonly onProgress: ((p: BackfillProgress) => void) | undefined,
  ) {}

  /** A report when `every` more records were read since the last one. */
  step(): void {
    if (this.progress.read - this.reported >= this.every) this.report();
  }

  report(): void {
    const progress = this.progress;
    progress.etaSeconds = etaSeconds(this.started, progress.read, progress.total);
    this.reported = progress.read;
    // the final report repeats the last one when the last batch completed a step: once is enough
    const line = `${progress.read}/${progress.total}/${progress.published}/${progress.alreadyPresent}`;
    if (line !== this.last) this.onProgress?.({ ...progress });
    this.last = line;
  }
}

/** Where the reading of the source ranges stands, and the new-major facts of each batch. */
class RangeReading {
  private readonly byKey: Map<string, SourceRange>;
  /** next offset to read per partition (a re-fetched batch must not count or publish twice) */
  private readonly next: Map<string, bigint>;
  /** the partitions whose bound no batch has reached yet */
  readonly remaining: Set<string>;
  readonly topics: string[];

  constructor(
    ranges: SourceRange[],
    private readonly processor: RecordProcessor,
    private readonly from: SourcePosition | null,
    private readonly present: Set<string>,
    readonly progress: BackfillProgress,
  ) {
    this.byKey = new Map(ranges.map((r) => [`${r.topic}|${r.partition}`, r]));
    this.next = new Map(ranges.map((r) => [`${r.topic}|${r.partition}`, r.from]));
    this.remaining = new Set(ranges.filter((r) => r.end > r.from).map((r) => `${r.topic}|${r.partition}`));
    this.topics = [...new Set(ranges.map((r) => r.topic))];
  }

  /** The new-major facts of a batch that the new topic does not carry yet. */
  async select(topic: string, partition: number, messages: KafkaMessage[]): Promise<PublishedRecord[]> {
    const key = `${topic}|${partition}`;
    const range = this.byKey.get(key);
    if (!range) return [];
    const records = messages
      .filter((m) => {
        const offset = BigInt(m.offset);
        return offset >= (this.next.get(key) ?? range.from) && offset < range.end;
      })
      .map((m) => toSourceRecord(topic, partition, m));
    if (records.length === 0) return [];
    await this.processor.prepare(records);
    const out: PublishedRecord[] = [];
    for (const record of records) {
      out.push(...selectBackfillEvents(this.processor, record, this.from, this.present, this.progress));
    }
    const last = records[records.length - 1];
    if (last) this.next.set(key, BigInt(last.offset) + 1n);
    return out;
  }

  /**
   * A batch ended at `lastOffset`: transaction markers occupy offsets, so a partition is done once a batch
   * reaches the bound (a batch of markers only never reaches eachBatch, but ends with END_BATCH_PROCESS like
   * every other batch). True when every partition is done.
   */
  batchEnded(topic: string, partition: number, lastOffset: string): boolean {
    const key = `${topic}|${partition}`;
    const range = this.byKey.get(key);
    if (range && BigInt(lastOffset) + 1n >= range.end) this.remaining.delete(key);
    return this.remaining.size === 0;
  }
}

/** Reads the ranges with a throw-away group and publishes what the new topic lacks, until done or aborted. */
async function readAndPublish(
  kafka: Kafka,
  options: KafkaBackfillOptions,
  reading: RangeReading,
  reporter: ProgressReporter,
): Promise<void> {
  const producer = backfillProducer(kafka);
  const consumer = backfillConsumer(kafka, options);
  await producer.connect();
  try {
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: reading.topics, fromBeginning: true });
      await consumeToBounds(consumer, producer, options, reading, reporter);
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await producer.disconnect();
  }
}

function backfillProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { ...CLIENT_RETRY, retries: 20 },
  });
}

function backfillConsumer(kafka: Kafka, options: KafkaBackfillOptions): Consumer {
  return kafka.consumer({
    // a group of its own: the worker's group and its offsets are never touched; nothing is committed
    groupId: `changecast-migrate-backfill-${options.config.pipeline}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...FETCH_LIMITS,
    ...(options.timing?.sessionTimeout ? { sessionTimeout: options.timing.sessionTimeout } : {}),
    ...(options.timing?.heartbeatInterval ? { heartbeatInterval: options.timing.heartbeatInterval } : {}),
    ...(options.timing?.maxWaitTimeInMs ? { maxWaitTimeInMs: options.timing.maxWaitTimeInMs } : {}),
    // a reader that crashes fails the backfill instead of restarting (or waiting) forever
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
}

/** Runs the consumer until every partition reached its bound, the backfill is aborted or the reader crashes. */
function consumeToBounds(
  consumer: Consumer,
  producer: Producer,
  options: KafkaBackfillOptions,
  reading: RangeReading,
  reporter: ProgressReporter,
): Promise<void> {
  return new Promise<void>((done, fail) => {
    options.signal?.addEventListener("abort", () => done(), { once: true });
    consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (reading.batchEnded(payload.topic, payload.partition, payload.lastOffset)) done();
    });
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch, heartbeat, isRunning }) => {
          if (!isRunning() || options.signal?.aborted) return;
          const out = await reading.select(batch.topic, batch.partition, batch.messages);
          // durable (acks=all) before the batch counts; a crash before this re-publishes it on the re-run
          if (out.length)
            await producer.sendBatch({
              topicMessages: topicMessages(out),
              acks: -1,
              compression: compressionType(options.config.kafka.compression),
            });
          reading.progress.published += out.length;
          reporter.step();
          await heartbeat();
        },
      })
      .catch(fail);
  });
}
