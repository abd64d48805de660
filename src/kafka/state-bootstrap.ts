// The table-state bootstrap on Kafka (docs/state.md): before the worker joins its consumer group, the topics of
// looked-up tables are read to their current end by a throw-away group that commits nothing, from the offsets the
// state store has applied already, and handed over in batches (the worker applies them to the state only).
import { Kafka, type KafkaConfig } from "kafkajs";
import type { SourceRecord } from "../decode/change-event.js";
import { CLIENT_RETRY } from "./kafka-client.js";
import { FETCH_LIMITS, toSourceRecord } from "./kafka-transport.js";

interface Range {
  topic: string;
  partition: number;
  next: bigint;
  end: bigint;
}

export interface BootstrapReadOptions {
  client: KafkaConfig;
  pipeline: string;
  topics: readonly string[];
  /** next offset already applied per "topic/partition" (the state store's table_state_offsets) */
  applied: ReadonlyMap<string, bigint>;
  /** give up waiting for a partition that sends nothing more (default 30 s) */
  idleTimeoutMs?: number;
}

/** The records of `topics` from the applied offsets to the end they have now, in batches (one partition each). */
export async function* readToCurrentEnd(options: BootstrapReadOptions): AsyncGenerator<SourceRecord[]> {
  const kafka = new Kafka(options.client);
  const ranges = await currentRanges(kafka, options);
  if (ranges.length === 0) return;
  const byKey = new Map(ranges.map((r) => [`${r.topic}/${r.partition}`, r]));
  const queue: SourceRecord[][] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: Error | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const consumer = kafka.consumer({
    groupId: `changecast-state-bootstrap-${options.pipeline}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...FETCH_LIMITS,
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
  await consumer.connect();
  let idle: NodeJS.Timeout | undefined;
  // a batch is taken by the generator before the next one is fetched: memory stays bounded
  let taken: (() => void) | null = null;
  const progress = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      finished = true;
      signal();
    }, options.idleTimeoutMs ?? 30_000);
  };
  try {
    await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      failure = payload.error;
      signal();
    });
    progress();
    void consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch, heartbeat }) => {
          const key = `${batch.topic}/${batch.partition}`;
          const range = byKey.get(key);
          if (!range || range.next >= range.end) return;
          const records: SourceRecord[] = [];
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < range.next || offset >= range.end) continue;
            records.push(toSourceRecord(batch.topic, batch.partition, m));
            range.next = offset + 1n;
          }
          // transaction markers occupy offsets: a batch that ends at the bound finishes the range
          if (BigInt(batch.lastOffset()) + 1n >= range.end) range.next = range.end;
          progress();
          if (records.length) {
            queue.push(records);
            signal();
            await new Promise<void>((resolve) => (taken = resolve));
          }
          if (ranges.every((r) => r.next >= r.end)) {
            finished = true;
            signal();
          }
          await heartbeat();
        },
      })
      .catch((err: unknown) => {
        failure = err instanceof Error ? err : new Error(String(err));
        signal();
      });
    for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.next) });
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        const t = taken as (() => void) | null;
        taken = null;
        t?.();
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    clearTimeout(idle);
    // a batch handler still waiting for its batch to be taken must return for the consumer to stop
    (taken as (() => void) | null)?.();
    await consumer.disconnect().catch(() => undefined);
  }
}

/** Per partition: from the applied offset (or the first retained one) to the current end; empty ones left out. */
async function currentRanges(kafka: Kafka, options: BootstrapReadOptions): Promise<Range[]> {
  const admin = kafka.admin({ retry: CLIENT_RETRY });
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const ranges: Range[] = [];
    for (const topic of new Set(options.topics)) {
      if (!existing.has(topic)) continue;
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const low = BigInt(o.low);
        const end = BigInt(o.high);
        const applied = options.applied.get(`${topic}/${o.partition}`) ?? 0n;
        const next = applied > low ? applied : low;
        if (next < end) ranges.push({ topic, partition: o.partition, next, end });
      }
    }
    return ranges;
  } finally {
    await admin.disconnect();
  }
}
