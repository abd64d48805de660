// Shared by the Kafka suites: a synthetic pipeline (one table, one event) written into a temp dir, Debezium
// records for it, producing into / consuming from the mock cluster, and ce_id accounting.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { globSync } from "tinyglobby";
import { CompressionTypes, Kafka, logLevel, Partitioners, type Message, type Producer } from "kafkajs";
import { pino as pinoLogger } from "pino";
import { parseKcatLine } from "../../src/decode/kcat.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { openPipeline } from "../../src/cli/pipeline.js";
import type { RecordView } from "../../src/publish/output-record.js";
import { heldRecords } from "../../src/worker/held-changes.js";
import type { KafkaClientName } from "../../src/config/schema.js";
import { librdkafkaAvailable } from "../../src/kafka/librdkafka-api.js";
import { registerCompressionCodecs } from "../../src/kafka/compression.js";

/**
 * The Kafka clients every transport suite runs with. librdkafka is an optional native dependency: where it is not
 * installed (its build failed) its cases are skipped with a warning instead of failing.
 */
export const KAFKA_CLIENTS_UNDER_TEST: KafkaClientName[] = librdkafkaAvailable()
  ? ["kafkajs", "librdkafka"]
  : ["kafkajs"];
if (!librdkafkaAvailable())
  console.warn("@confluentinc/kafka-javascript is not installed: the librdkafka transport is not tested");

export const repoRoot = join(import.meta.dirname, "..", "..");
export const SOURCE_TOPIC = "dbserver1.test.items";
export const EVENT_TOPIC = "test.item-events";
export const DLQ_TOPIC = "changecast.items.dlq";

const SCHEMA = {
  type: "record",
  name: "ItemChanged",
  namespace: "io.example.test",
  fields: [
    { name: "id", type: "long" },
    { name: "name", type: "string" },
    { name: "seq", type: "long" },
  ],
};

const TRANSFORM = `table: test.items
events:
  - name: ItemChanged
    schema: schemas/ItemChanged.avsc
    topic: ${EVENT_TOPIC}
    key: after.id
    fields:
      id: after.id
      name: after.name
      seq: after.seq
`;

export interface PipelineFiles {
  dir: string;
  config: string;
}

/** A temp dir with changecast.yaml + the synthetic transform and schema. */
export function syntheticPipeline(opts: {
  brokers: string;
  delivery: "exactly-once" | "at-least-once";
  registryUrl?: string;
  pipeline?: string;
  client?: KafkaClientName;
}): PipelineFiles {
  const dir = mkdtempSync(join(tmpdir(), "changecast-kafka-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "transforms"));
  writeFileSync(join(dir, "schemas", "ItemChanged.avsc"), JSON.stringify(SCHEMA, null, 2));
  writeFileSync(join(dir, "transforms", "items.yaml"), TRANSFORM);
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      `pipeline: ${opts.pipeline ?? "items"}`,
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      "kafka:",
      `  brokers: ${opts.brokers}`,
      `  client: ${opts.client ?? "kafkajs"}`,
      "registry:",
      `  url: ${opts.registryUrl ?? ""}`,
      "  compatibility: BACKWARD",
      "  subjectNameStrategy: TopicRecordNameStrategy",
      "state: sqlite:state.sqlite",
      `delivery: ${opts.delivery}`,
      "errors:",
      "  tolerance: all",
      `  deadLetterTopic: ${DLQ_TOPIC}`,
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  return { dir, config };
}

/** The example pipeline (changecast.yaml, transforms/postgres, schemas) copied into a temp dir. */
export function examplePipeline(opts: {
  brokers: string;
  registryUrl: string;
  delivery: "exactly-once" | "at-least-once";
  client?: KafkaClientName;
}): PipelineFiles {
  const dir = mkdtempSync(join(tmpdir(), "changecast-kafka-example-"));
  cpSync(join(repoRoot, "transforms"), join(dir, "transforms"), { recursive: true });
  cpSync(join(repoRoot, "schemas"), join(dir, "schemas"), { recursive: true });
  const text = readFileSync(join(repoRoot, "changecast.yaml"), "utf8")
    .replace("${KAFKA_BROKERS:-}", opts.brokers)
    .replace("${SCHEMA_REGISTRY_URL:-}", opts.registryUrl)
    .replace("${STATE_URL:-sqlite:.changecast/state.sqlite}", "sqlite:state.sqlite")
    .replace(/^delivery: .*$/m, `delivery: ${opts.delivery}`)
    .replace(/^kafka:\n/m, `kafka:\n  client: ${opts.client ?? "kafkajs"}\n`)
    .replace(/^\s*files:.*(?:\n\s+- .*)*$/m, "")
    // the captures are produced as one backlog of 8 hours of source time and the worker reads the topics at
    // their own pace: an order's rows can run hours (of source time) ahead of its transaction's END, which would
    // time the aggregate out (partial) under the default 60 s; the comparison with the offline processor wants
    // every transaction complete
    .replace(/^(\s*)transactionTopic: (.*)$/m, "$1transactionTopic: $2\n$1transactionTimeout: 24h");
  const config = join(dir, "changecast.yaml");
  writeFileSync(config, text);
  return { dir, config };
}

/** Debezium JsonConverter (schemas.enable=false) insert of row `seq` of test.items; unique LSN per seq. */
export function itemRecord(seq: number, keys = 997): Message {
  const id = seq % keys;
  const ts = 1_700_000_000_000 + seq;
  const lsn = 10_000_000 + seq * 8;
  return {
    key: JSON.stringify({ id }),
    value: JSON.stringify({
      before: null,
      after: { id, name: `item-${id}`, seq },
      source: {
        version: "2.7.3.Final",
        connector: "postgresql",
        name: "dbserver1",
        ts_ms: ts,
        snapshot: "false",
        db: "inventory",
        sequence: `[null,"${lsn}"]`,
        schema: "test",
        table: "items",
        txId: 5000 + seq,
        lsn,
        xmin: null,
      },
      op: "c",
      ts_ms: ts + 3,
    }),
    timestamp: String(ts),
  };
}

export function quietKafka(brokers: string[]): Kafka {
  // short request timeout: a request whose connection the mock drops must not stall a reader for 30 s
  return new Kafka({
    brokers,
    clientId: "changecast-test",
    logLevel: logLevel.NOTHING,
    requestTimeout: 5_000,
  });
}

export async function withProducer<T>(kafka: Kafka, fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: true,
  });
  await producer.connect();
  try {
    return await fn(producer);
  } finally {
    await producer.disconnect();
  }
}

/**
 * The librdkafka mock keeps at most 5 MB (and 100 000 message sets) per partition log and silently drops the
 * oldest message sets beyond that (rdkafka_mock.c, `max_size`), like a broker with retention.bytes = 5 MB.
 * A synthetic item is ~370 bytes of JSON and an event ~260 bytes with its CloudEvents headers, so a test that
 * writes more than ~13 000 items or ~19 000 events per partition must compress (`gzip`) or spread them over
 * more partitions, else records vanish before anyone reads them. `retainedFromStart` checks it did not happen.
 */
export const MOCK_PARTITION_LOG_BYTES = 5 * 1024 * 1024;

export interface ProduceOptions {
  /** one more message after item `seq` (poison records, …) */
  extra?: (seq: number) => Message | null;
  /** gzip the source batches (kafkajs decompresses them; keeps big streams under the mock's 5 MB per partition) */
  gzip?: boolean;
  /** lz4 source batches (Kafka's LZ4 frames, as Debezium with compression.type=lz4 writes them) */
  lz4?: boolean;
  /** items per produce request (default 2000) */
  chunk?: number;
  /** pause after each request: a stream arriving over time instead of a backlog */
  pauseMs?: number;
}

/** Produces items [from, to) in chunks (keyed, so each key's records stay ordered in one partition). */
export async function produceItems(
  kafka: Kafka,
  from: number,
  to: number,
  extraOrOptions?: ((seq: number) => Message | null) | ProduceOptions,
): Promise<void> {
  const o: ProduceOptions =
    typeof extraOrOptions === "function" ? { extra: extraOrOptions } : (extraOrOptions ?? {});
  const chunk = o.chunk ?? 2_000;
  if (o.lz4) registerCompressionCodecs();
  await withProducer(kafka, async (p) => {
    for (let start = from; start < to; start += chunk) {
      const messages: Message[] = [];
      for (let seq = start; seq < Math.min(to, start + chunk); seq++) {
        messages.push(itemRecord(seq));
        const more = o.extra?.(seq);
        if (more) messages.push(more);
      }
      await p.send({
        topic: SOURCE_TOPIC,
        messages,
        acks: -1,
        ...(o.gzip ? { compression: CompressionTypes.GZIP } : {}),
        ...(o.lz4 ? { compression: CompressionTypes.LZ4 } : {}),
      });
      if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
    }
  });
}

/** Per partition: log start (low watermark), end (high watermark) and the group's committed offset. */
export async function partitionReport(
  kafka: Kafka,
  topic: string,
  groupId?: string,
): Promise<{ partition: number; low: string; high: string; committed?: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const committed = groupId
      ? ((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [])
      : [];
    return offsets
      .map((o) => {
        const c = committed.find((p) => p.partition === o.partition)?.offset;
        return {
          partition: o.partition,
          low: o.low,
          high: o.high,
          ...(c !== undefined ? { committed: c } : {}),
        };
      })
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** Whether every partition of `topic` still starts at offset 0 (the mock dropped nothing, see above). */
export async function retainedFromStart(kafka: Kafka, topic: string): Promise<boolean> {
  return (await partitionReport(kafka, topic)).every((p) => p.low === "0");
}

/** The example captures (kcat -J) as messages per Debezium topic, keys and timestamps kept. */
export function captureMessages(): Map<string, Message[]> {
  const byTopic = new Map<string, Message[]>();
  for (const file of globSync("captures/postgres/dbserver1.*.jsonl", {
    cwd: repoRoot,
    absolute: true,
  }).sort()) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const r = parseKcatLine(line);
      const list = byTopic.get(r.topic) ?? [];
      list.push({
        key: r.key,
        value: r.value,
        ...(r.timestamp !== null ? { timestamp: String(r.timestamp) } : {}),
        headers: r.headers,
      });
      byTopic.set(r.topic, list);
    }
  }
  return byTopic;
}

export interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  timestamp: string;
  headers: Record<string, string>;
}

/**
 * Reads `topics` from the beginning (a fresh group each call) until `done(all)` holds, or until nothing new
 * arrived for `idleMs` after it held. Returns every record seen.
 */
export async function consumeUntil(
  kafka: Kafka,
  topics: string[],
  done: (all: Received[]) => boolean,
  opts: { idleMs?: number; timeoutMs?: number } = {},
): Promise<Received[]> {
  const consumer = kafka.consumer({
    groupId: `reader-${Math.random().toString(36).slice(2)}`,
    maxWaitTimeInMs: 200,
  });
  const all: Received[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {})) {
          const one = Array.isArray(v) ? v[v.length - 1] : v;
          if (one !== undefined) headers[k] = one.toString();
        }
        all.push({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ? m.key.toString("utf8") : null,
          value: m.value,
          timestamp: m.timestamp,
          headers,
        });
      }
      last = Date.now();
    },
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      if (done(all) && Date.now() - last >= (opts.idleMs ?? 1_000)) return all;
      if (Date.now() > deadline) return all;
    }
  } finally {
    await consumer.disconnect();
  }
}

/** ce_id accounting: how many distinct ids, which expected ones are missing, how many duplicates. */
export function account(
  records: Received[],
  expected: Set<string>,
): { distinct: number; missing: string[]; duplicates: number; unexpected: number } {
  const seen = new Map<string, number>();
  for (const r of records) {
    const id = r.headers.ce_id;
    if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let duplicates = 0;
  let unexpected = 0;
  for (const [id, n] of seen) {
    duplicates += n - 1;
    if (!expected.has(id)) unexpected++;
  }
  return {
    distinct: seen.size,
    missing: [...expected].filter((id) => !seen.has(id)),
    duplicates,
    unexpected,
  };
}

/** The ce_ids the synthetic items [from, to) must produce (the same processor the worker uses, offline). */
export async function expectedItemIds(config: string, from: number, to: number): Promise<Set<string>> {
  const { openPipeline } = await import("../../src/cli/pipeline.js");
  const pipeline = await openPipeline(config, { stateUrl: "sqlite::memory:", embeddedRegistry: true });
  try {
    const ids = new Set<string>();
    for (let seq = from; seq < to; seq++) {
      const m = itemRecord(seq);
      const outcome = pipeline.processor.process({
        topic: SOURCE_TOPIC,
        partition: 0,
        offset: String(seq),
        timestamp: null,
        headers: {},
        key: Buffer.from(m.key as string),
        value: Buffer.from(m.value as string),
      });
      if (outcome.kind !== "events") throw new Error(`item ${seq} did not map: ${outcome.kind}`);
      for (const r of outcome.records) ids.add(r.view.headers.ce_id!);
    }
    return ids;
  } finally {
    await pipeline.close();
  }
}

/** A pino logger that keeps the worker's log lines (for waiting on group joins) and drops them otherwise. */
export function capturingLogger(): { logger: import("pino").Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  return { logger: pinoLogger({ level: "info" }, stream), lines };
}

/** The last assignment a worker's log reported ({topic: partitions}), or null before it joined. */
export function lastAssignment(lines: Record<string, unknown>[]): Record<string, number[]> | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const a = lines[i]?.assignment;
    if (a && typeof a === "object") return a as Record<string, number[]>;
  }
  return null;
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the example captures must turn into: the offline processor's records, by ce_id. */
export async function expectedViews(
  config: string,
  /** headers false: as a producer that sends no headers (kcat -P) would leave the records; topics: only these */
  options: { headers?: boolean; topics?: readonly string[] } = {},
): Promise<Map<string, RecordView>> {
  const pipeline = await openPipeline(config, {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
    tableState: "memory",
  });
  try {
    const views = new Map<string, RecordView>();
    // as replay does: state written per record; released children and completed aggregates are held outcomes
    // (an order's aggregate completes once its transaction's END, on another topic, has been read)
    for (const [topic, messages] of captureMessages()) {
      if (options.topics && !options.topics.includes(topic)) continue;
      for (const [i, m] of messages.entries()) {
        const record: SourceRecord = {
          topic,
          partition: 0,
          offset: String(i),
          timestamp: m.timestamp ? Number(m.timestamp) : null,
          headers:
            options.headers === false
              ? {}
              : Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
          key: (m.key as Buffer | null) ?? null,
          value: (m.value as Buffer | null) ?? null,
        };
        await pipeline.processor.prepare([record]);
        const outcome = pipeline.processor.process(record);
        if (outcome.kind === "events")
          for (const { view } of outcome.records) views.set(view.headers.ce_id!, view);
        for (const held of pipeline.processor.takeHeldOutcomes())
          for (const { view } of heldRecords(held)) views.set(view.headers.ce_id!, view);
        await pipeline.processor.beforeCommit([record]);
      }
    }
    return views;
  } finally {
    await pipeline.close();
  }
}
