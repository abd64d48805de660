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
import { Kafka, logLevel, Partitioners, type Admin, type KafkaConfig, type KafkaMessage } from "kafkajs";
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
  const admin = kafka.admin();
  await admin.connect();
  let ranges: SourceRange[];
  try {
    // the bound first, the new topic's ce_ids after: every fact the worker published below the bound is read
    ranges = await sourceRanges(admin, topics, consumerGroupId(config.pipeline), note);
  } finally {
    await admin.disconnect();
  }
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
  const present = new Set<string>();
  for (const p of (await options.access.snapshot(topic)).partitions)
    for (const r of p.records) present.add(r.ceId);

  const from = options.from ? parsePosition(options.from) : null;
  const progress = startProgress(Number(ranges.reduce((sum, r) => sum + (r.end - r.from), 0n)));
  const started = Date.now();
  const every = options.progressEvery ?? 500;
  let reported = 0;
  let last = "";
  const report = () => {
    progress.etaSeconds = etaSeconds(started, progress.read, progress.total);
    reported = progress.read;
    // the final report repeats the last one when the last batch completed a step: once is enough
    const line = `${progress.read}/${progress.total}/${progress.published}/${progress.alreadyPresent}`;
    if (line !== last) options.onProgress?.({ ...progress });
    last = line;
  };

  const byKey = new Map(ranges.map((r) => [`${r.topic}|${r.partition}`, r]));
  /** next offset to read per partition (a re-fetched batch must not count or publish twice) */
  const next = new Map(ranges.map((r) => [`${r.topic}|${r.partition}`, r.from]));
  const remaining = new Set(ranges.filter((r) => r.end > r.from).map((r) => `${r.topic}|${r.partition}`));

  /** The new-major facts of a batch that the new topic does not carry yet. */
  const select = async (t: string, partition: number, messages: KafkaMessage[]) => {
    const key = `${t}|${partition}`;
    const range = byKey.get(key);
    if (!range) return [];
    const records = messages
      .filter((m) => {
        const offset = BigInt(m.offset);
        return offset >= (next.get(key) ?? range.from) && offset < range.end;
      })
      .map((m) => toSourceRecord(t, partition, m));
    if (records.length === 0) return [];
    await processor.prepare(records);
    const out: PublishedRecord[] = [];
    for (const record of records) {
      out.push(...selectBackfillEvents(processor, record, from, present, progress));
    }
    const last = records[records.length - 1];
    if (last) next.set(key, BigInt(last.offset) + 1n);
    return out;
  };

  if (remaining.size > 0 && !options.signal?.aborted) {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { ...CLIENT_RETRY, retries: 20 },
    });
    const consumer = kafka.consumer({
      // a group of its own: the worker's group and its offsets are never touched; nothing is committed
      groupId: `changecast-migrate-backfill-${config.pipeline}-${process.pid}-${Date.now()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      ...FETCH_LIMITS,
      ...(options.timing?.sessionTimeout ? { sessionTimeout: options.timing.sessionTimeout } : {}),
      ...(options.timing?.heartbeatInterval ? { heartbeatInterval: options.timing.heartbeatInterval } : {}),
      ...(options.timing?.maxWaitTimeInMs ? { maxWaitTimeInMs: options.timing.maxWaitTimeInMs } : {}),
      // a reader that crashes fails the backfill instead of restarting (or waiting) forever
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
    });
    await producer.connect();
    try {
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
        await new Promise<void>((done, fail) => {
          options.signal?.addEventListener("abort", () => done(), { once: true });
          consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
          // transaction markers occupy offsets: a partition is done once a batch reaches the bound (a batch of
          // markers only never reaches eachBatch, but ends with END_BATCH_PROCESS like every other batch)
          consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
            const key = `${payload.topic}|${payload.partition}`;
            const range = byKey.get(key);
            if (range && BigInt(payload.lastOffset) + 1n >= range.end) remaining.delete(key);
            if (remaining.size === 0) done();
          });
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch, heartbeat, isRunning }) => {
                if (!isRunning() || options.signal?.aborted) return;
                const out = await select(batch.topic, batch.partition, batch.messages);
                // durable (acks=all) before the batch counts; a crash before this re-publishes it on the re-run
                if (out.length)
                  await producer.sendBatch({
                    topicMessages: topicMessages(out),
                    acks: -1,
                    compression: compressionType(options.config.kafka.compression),
                  });
                progress.published += out.length;
                if (progress.read - reported >= every) report();
                await heartbeat();
              },
            })
            .catch(fail);
        });
      } finally {
        await consumer.disconnect();
      }
    } finally {
      await producer.disconnect();
    }
  }
  progress.done = remaining.size === 0;
  // the estimate counted offsets, some of which are transaction markers rather than records
  if (progress.done) progress.total = progress.read;
  report();
  return { ...progress };
}
