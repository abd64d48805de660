// The Kafka side of the migration tests: the worker in-process on the mock cluster, the `changecast` CLI as a
// child process (asynchronous, so the worker and consumers keep running meanwhile), Debezium inserts produced to
// the source topic, and a reference kafkajs consumer group that commits exactly what it processed.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import { Kafka, logLevel, Partitioners, type Consumer, type IHeaders, type KafkaMessage } from "kafkajs";
import { pino } from "pino";
import { openPipeline, type OpenPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { fromWireFormat } from "../../src/avro/wire.js";
import { createSwitchFilter, type SwitchFilter } from "../../src/migrate/switch.js";
import { KafkaTopicAccess } from "../../src/migrate/topics.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import type { RunStats } from "../../src/worker/run-stats.js";
import {
  changes,
  EVENT,
  insertRecord,
  migrationProject,
  ROOT,
  type Captured,
  type Project,
  type TypedFact,
} from "./harness.js";
export { accounting as kafkaAccounting } from "./harness.js";
export { waitFor } from "../kafka/helpers.js";

export const SOURCE = "dbserver1.inventory.customers";
const CLI = [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), join(ROOT, "src", "cli", "main.ts")];
/** Short sessions: the mock completes a join into a group that had members after session timeout − 1 s. */
export const GROUP_TIMING = { KAFKA_SESSION_TIMEOUT_MS: "6000", KAFKA_HEARTBEAT_INTERVAL_MS: "500" };

export function testKafka(brokers: string[]): Kafka {
  return new Kafka({ brokers, clientId: "migrate-test", logLevel: logLevel.NOTHING, requestTimeout: 10_000 });
}

/** Produces the Debezium inserts of customers [from, to) to the source topic, keyed by id. */
export async function produceInserts(kafka: Kafka, from: number, to: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let start = from; start < to; start += 500) {
      const messages = [];
      for (let id = start; id < Math.min(to, start + 500); id++) {
        const r = insertRecord(id);
        messages.push({ key: r.key, value: r.value, timestamp: String(r.ts) });
      }
      await producer.send({ topic: SOURCE, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Produces `changes(from, to - from)` (inserts and e-mail changes, keyed by id) to the source topic. */
export async function produceChanges(kafka: Kafka, from: number, to: number): Promise<number> {
  const all = changes(from, to - from);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let start = 0; start < all.length; start += 500) {
      const messages = all
        .slice(start, start + 500)
        .map((r) => ({ key: r.key, value: r.value, timestamp: String(r.ts) }));
      await producer.send({ topic: SOURCE, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return all.length;
}

/** Sum of the high watermarks of a topic. */
export async function topicEnd(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface RunningWorker {
  pipeline: OpenPipeline;
  /** whether the worker publishes this major of the event now (it re-reads the migration state every 2 s) */
  publishes(major: number): boolean;
  /** throws the worker's error once it failed */
  check(): void;
  stop(): Promise<RunStats>;
}

/** `changecast run` with kafka.brokers, in-process (the function the CLI calls). */
export async function startWorker(project: Project): Promise<RunningWorker> {
  const pipeline = await openPipeline(project.config);
  const controller = new AbortController();
  const run = runKafkaWorker(pipeline, {
    signal: controller.signal,
    logger: pino({ level: "silent" }),
    env: { ...process.env, ...GROUP_TIMING },
  });
  // a worker that fails early must fail the test, not leave it waiting
  let failure: unknown = null;
  run.catch((err: unknown) => {
    failure = err ?? new Error("worker failed");
  });
  return {
    pipeline,
    publishes: (major) =>
      pipeline.transforms.declarations.some(
        (d) => d.name === EVENT && (d.major ?? 1) === major && pipeline.transforms.isActive(d),
      ),
    check: () => {
      if (failure !== null) throw failure instanceof Error ? failure : new Error(String(failure));
    },
    stop: async () => {
      controller.abort();
      try {
        return await run;
      } finally {
        await pipeline.close();
      }
    },
  };
}

const running = new Set<ChildProcess>();

/** Kills the CLI children still running (a test that failed or timed out must not leave them behind). */
export function killClis(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

/** `changecast <args>` as a child process, without blocking this process' event loop. */
export function cli(project: Project, ...args: string[]): Promise<Captured> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...CLI, ...args, "--config", project.config], {
      env: { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "", ...GROUP_TIMING },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
    child.once("error", fail);
    if (process.env.MIGRATE_TEST_DEBUG === "1") {
      child.stdout.on("data", (b: Buffer) => process.stderr.write(`[cli out] ${b.toString("utf8")}`));
      child.stderr.on("data", (b: Buffer) => process.stderr.write(`[cli err] ${b.toString("utf8")}`));
    }
    running.add(child);
    child.once("close", (code) => {
      running.delete(child);
      done({ code: code ?? -1, out, err });
    });
  });
}

export interface KafkaFact {
  ceId: string;
  /** the decoded customerId: a number on major 1, a string on major 2 */
  customerId: number | string;
  topic: string;
  partition: number;
  offset: string;
}

const schemaFile = (major: number) =>
  join(ROOT, "schemas", "customer", ...(major === 1 ? [] : [`v${major}`]), "CustomerRegistered.avsc");
const TYPES = new Map(
  [1, 2].map((major) => [major, avro.Type.forSchema(JSON.parse(readFileSync(schemaFile(major), "utf8")))]),
);

function header(headers: IHeaders | undefined, name: string): string | null {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? null : one.toString();
}

/** What a reference consumer makes of one record of a batch: its fact, or null to pass over it. */
type ToFact<F> = (message: KafkaMessage, topic: string, partition: number) => F | null;

/**
 * A reference consumer group: for each batch it turns the records into facts, commits the next offset and only
 * then counts the facts as processed — so `processed` is exactly what its committed offsets say, and a fact
 * processed twice shows up twice (it never deduplicates). `limit` stops processing at that many facts in total
 * (the group stays a member, paused).
 */
class CommittingConsumer<F> {
  readonly processed: F[] = [];
  filter: SwitchFilter = createSwitchFilter([]);
  private consumer: Consumer | null = null;
  private topics: string[] = [];
  private limit = Number.POSITIVE_INFINITY;

  constructor(
    private readonly kafka: Kafka,
    readonly group: string,
  ) {}

  protected async consume(topics: string[], limit: number, toFact: ToFact<F>): Promise<void> {
    this.topics = topics;
    this.limit = limit;
    const consumer = this.kafka.consumer({
      groupId: this.group,
      sessionTimeout: Number(GROUP_TIMING.KAFKA_SESSION_TIMEOUT_MS),
      heartbeatInterval: Number(GROUP_TIMING.KAFKA_HEARTBEAT_INTERVAL_MS),
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    // fromBeginning only applies where the group has no committed offset
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }) => {
        const facts: F[] = [];
        let next: bigint | null = null;
        let complete = true;
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) {
            complete = false;
            break;
          }
          if (this.processed.length + facts.length >= this.limit) {
            pause();
            complete = false;
            break;
          }
          next = BigInt(m.offset) + 1n;
          const fact = toFact(m, batch.topic, batch.partition);
          if (fact !== null) facts.push(fact);
        }
        // a transaction marker at the end of the batch (exactly-once outputs) is passed over with the batch
        if (complete) next = BigInt(batch.lastOffset()) + 1n;
        if (next === null) return;
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: next.toString() },
        ]);
        resolveOffset((next - 1n).toString());
        this.processed.push(...facts);
        await heartbeat();
      },
    });
    this.consumer = consumer;
  }

  /** Processes up to `limit` facts in total from now on (resuming paused partitions). */
  setLimit(limit: number): void {
    this.limit = limit;
    this.consumer?.resume(this.topics.map((topic) => ({ topic })));
  }

  /** Leaves the group (nothing is committed on the way out: every processed fact was committed already). */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}

/** A reference consumer of the migrated event on one topic at a time, decoding the Avro value of its major. */
export class KafkaReferenceConsumer extends CommittingConsumer<KafkaFact> {
  async start(topic: string, major: number, limit = Number.POSITIVE_INFINITY): Promise<void> {
    const type = TYPES.get(major);
    if (!type) throw new Error(`no schema for major ${major}`);
    await this.consume([topic], limit, (m, topic, partition) => {
      if (!header(m.headers, "ce_type")?.endsWith(`.${EVENT}`)) return null;
      if (!this.filter.accept(m.headers ?? {})) return null;
      const value = type.fromBuffer(fromWireFormat(m.value ?? Buffer.alloc(0)).body) as {
        customerId: number | string;
      };
      const ceId = header(m.headers, "ce_id") ?? "";
      return { ceId, customerId: value.customerId, topic, partition, offset: m.offset };
    });
  }
}

/**
 * A consumer group of a shared topic on Kafka: subscribed to one or more topics, it processes every record of
 * every event type through its switch filter (`accept(headers, topic)`).
 */
export class SharedKafkaConsumer extends CommittingConsumer<TypedFact> {
  async start(topics: string[], limit = Number.POSITIVE_INFINITY): Promise<void> {
    await this.consume(topics, limit, (m, topic) => {
      if (!this.filter.accept(m.headers ?? {}, topic)) return null;
      return { ceId: header(m.headers, "ce_id") ?? "", type: header(m.headers, "ce_type") ?? "", topic };
    });
  }
}

/** What each Kafka migration test cleans up after itself, last first; also stops the CLIs it started. */
const cleanups: (() => Promise<unknown>)[] = [];
export function onCleanup(step: () => Promise<unknown>): void {
  cleanups.push(step);
}
export async function cleanUp(): Promise<void> {
  killClis();
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
}

/**
 * The mock cluster with the source topic (3 partitions) and the old and new majors' topics, a migration project on
 * it and the worker running in-process — the set-up of every Kafka migration test, cleaned up by `cleanUp`.
 */
export async function startMigrationCluster(
  partitions: { old: number; new: number },
  delivery: "exactly-once" | "at-least-once",
  topics: { old: string; new: string },
): Promise<{ mock: MockKafka; project: Project; kafka: Kafka; worker: RunningWorker }> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE, partitions: 3 },
      { name: topics.old, partitions: partitions.old },
      { name: topics.new, partitions: partitions.new },
    ],
  });
  onCleanup(() => mock.stop());
  const project = migrationProject({ brokers: mock.bootstrap, delivery });
  const kafka = testKafka(mock.brokers);
  const worker = await startWorker(project);
  onCleanup(() => worker.stop());
  return { mock, project, kafka, worker };
}

/** Sum of a group's committed offsets on a topic (-1, nothing committed, counts as 0). */
export async function committedSum(mock: MockKafka, group: string, topic: string): Promise<number> {
  const admin = testKafka(mock.brokers).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (t?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Every record on the topics as (ce_id, ce_type), in partition/offset order (duplicates kept). */
export async function factsOnTopics(
  mock: MockKafka,
  topics: string[],
): Promise<{ ceId: string; type: string }[]> {
  const access = await KafkaTopicAccess.open({ brokers: mock.brokers, clientId: "migrate-test" });
  try {
    const facts: { ceId: string; type: string }[] = [];
    for (const t of topics)
      for (const p of (await access.snapshot(t)).partitions)
        for (const r of p.records) facts.push({ ceId: r.ceId, type: r.type ?? "" });
    return facts;
  } finally {
    await access.close();
  }
}
