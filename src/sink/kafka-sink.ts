// Kafka mode: the sink reads its topics as a member of its consumer group (kafkajs), read_committed. Where each
// partition starts is the target database's position (a seek on every assignment), not the group's committed
// offset, which is only a mirror written after each database commit.
import { hostname } from "node:os";
import { Kafka, type Consumer, type IHeaders, type Producer } from "kafkajs";
import { consumerTiming, kafkaClientConfig } from "../kafka/kafka-client.js";
import type { SinkRecord } from "./project.js";
import {
  BatchApplier,
  deadLetterHeaders,
  type DeadLetterOutput,
  type SinkContext,
  type SinkDeadLetter,
  type SinkRunOptions,
} from "./sink.js";
import { readPositions } from "./target.js";

class KafkaDeadLetters implements DeadLetterOutput {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async write(letters: SinkDeadLetter[]): Promise<void> {
    // sent (acks=all) before the batch commits: a crash in between sends them again (at least once)
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: letters.map((l: SinkDeadLetter) => ({
        key: l.record.key,
        value: l.record.value,
        headers: deadLetterHeaders(l),
      })),
    });
  }
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = Buffer.isBuffer(last) ? last.toString("utf8") : String(last);
  }
  return out;
}

export async function runKafkaSink(ctx: SinkContext, opts: SinkRunOptions): Promise<void> {
  const { config } = ctx;
  const pipeline = config.pipeline;
  const kafka = new Kafka(
    kafkaClientConfig({
      brokers: pipeline.kafka.brokers,
      clientId: `${pipeline.kafka.clientId}-sink-${config.sink}-${hostname()}`,
      env: process.env,
    }),
  );
  const timing = consumerTiming(process.env);
  const consumer: Consumer = kafka.consumer({
    groupId: config.group,
    sessionTimeout: timing.sessionTimeout,
    heartbeatInterval: timing.heartbeatInterval,
    maxWaitTimeInMs: timing.maxWaitTimeInMs,
    metadataMaxAge: timing.metadataMaxAge,
    readUncommitted: false,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await consumer.connect();
  let fatal: unknown = null;
  let lastActivity = Date.now();
  let stop: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stop = resolve));
  try {
    await consumer.subscribe({ topics: ctx.topics, fromBeginning: true });
    const applier = new BatchApplier(
      ctx,
      new KafkaDeadLetters(producer, config.errors.deadLetterTopic),
      async (next) => {
        const offsets = [...next].map(([tp, n]) => {
          const i = tp.lastIndexOf("/");
          return { topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset: n.toString() };
        });
        if (offsets.length) await consumer.commitOffsets(offsets);
      },
      opts.io,
    );
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      lastActivity = Date.now();
      const assignment = event.payload.memberAssignment;
      readPositions(ctx.target.knex, config.sink)
        .then((positions) => {
          for (const [topic, partitions] of Object.entries(assignment))
            for (const partition of partitions) {
              const at = positions.get(`${topic}/${partition}`);
              if (at !== undefined) consumer.seek({ topic, partition, offset: at.toString() });
            }
        })
        .catch((err: unknown) => {
          // without its positions the sink cannot know where to start: stop, never guess
          fatal ??= err;
          stop();
        });
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) {
        fatal ??= event.payload.error;
        stop();
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const records: SinkRecord[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: BigInt(m.offset),
          key: m.key ? m.key.toString("utf8") : null,
          headers: headerText(m.headers),
          value: m.value,
        }));
        for (let i = 0; i < records.length; i += config.batch.maxEvents) {
          if (!isRunning() || isStale() || fatal) return;
          const chunk = records.slice(i, i + config.batch.maxEvents);
          try {
            await applier.apply(chunk);
          } catch (err) {
            fatal ??= err;
            stop();
            return;
          }
          resolveOffset(chunk[chunk.length - 1]!.offset.toString());
          lastActivity = Date.now();
          await heartbeat();
        }
      },
    });
    const idle = opts.idleExitMs
      ? setInterval(() => {
          if (Date.now() - lastActivity > opts.idleExitMs!) stop();
        }, 200)
      : null;
    opts.signal?.addEventListener("abort", () => stop(), { once: true });
    await done;
    if (idle) clearInterval(idle);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
  if (fatal) throw fatal;
}
