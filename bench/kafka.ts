// Kafka part of the benchmarks (`npx tsx bench/kafka.ts`): end-to-end records/s of the worker through the
// librdkafka mock cluster in both delivery modes (backlog produced first, then the worker runs until it committed
// all of it), the three parts of that path measured alone (kafkajs consumer, record processor, kafkajs producer:
// what bounds the end-to-end rate), and the peak RSS of a CLI worker process draining a 1M-record backlog.
// Results: bench/results/kafka.json.
//
// The mock keeps at most 5 MB per partition log and silently drops older records (test/kafka/helpers.ts,
// MOCK_PARTITION_LOG_BYTES), so the source topics are sized to hold the whole backlog: 12 partitions for the
// uncompressed throughput runs (~3 MB each), gzip and 16 partitions for the 1M backlog (~1.6 MB each). Each run
// checks that the source still starts at offset 0. (Event topics may overflow: the worker never reads them.)
//
// Environment: BENCH_KAFKA_RECORDS (throughput records, default 100 000), BENCH_KAFKA_BACKLOG (default
// 1 000 000), BENCH_KAFKA_SKIP_BACKLOG=1, BENCH_KAFKA_SKIP_THROUGHPUT=1 (modes and stages),
// BENCH_KAFKA_ONLY=modes,stages,backlog,held, BENCH_KAFKA_PROFILE=1 (CPU profile of the throughput runs into
// bench/results/).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Session } from "node:inspector/promises";
import { pino } from "pino";
import { openPipeline } from "../src/cli/pipeline.js";
import { KAFKA_BATCH_SIZE, runKafkaWorker } from "../src/cli/run.js";
import type { SourceRecord } from "../src/decode/change-event.js";
import { FETCH_LIMITS, toSourceRecord, topicMessages } from "../src/kafka/kafka-transport.js";
import type { PublishedRecord } from "../src/publish/output-record.js";
import { Partitioners, type Kafka } from "kafkajs";
import { startMockKafka } from "../test/infra/mock-kafka.js";
import { heldThroughput } from "./kafka-held.js";
import {
  EVENT_TOPIC,
  partitionReport,
  produceItems,
  quietKafka,
  SOURCE_TOPIC,
  syntheticPipeline,
} from "../test/kafka/helpers.js";

const root = join(import.meta.dirname, "..");
const THROUGHPUT_RECORDS = Number(process.env.BENCH_KAFKA_RECORDS ?? 100_000);
const BACKLOG_RECORDS = Number(process.env.BENCH_KAFKA_BACKLOG ?? 1_000_000);
const GROUP = "changecast.items";

interface Throughput {
  delivery: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  target: number;
}

async function committedTotal(admin: ReturnType<ReturnType<typeof quietKafka>["admin"]>): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [SOURCE_TOPIC] });
  return (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** A mock cluster holding THROUGHPUT_RECORDS source records in 12 uncompressed partitions (all still there). */
async function mockWithSourceRecords(): Promise<{
  mock: Awaited<ReturnType<typeof startMockKafka>>;
  kafka: Kafka;
}> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: 12 },
      { name: EVENT_TOPIC, partitions: 12 },
    ],
  });
  try {
    const kafka = quietKafka(mock.brokers);
    await produceItems(kafka, 0, THROUGHPUT_RECORDS);
    if ((await partitionReport(kafka, SOURCE_TOPIC)).some((p) => p.low !== "0"))
      throw new Error("the mock dropped source records (5 MB per partition): use more partitions");
    return { mock, kafka };
  } catch (err) {
    await mock.stop();
    throw err;
  }
}

async function throughput(delivery: "at-least-once" | "exactly-once"): Promise<Throughput> {
  const { mock, kafka } = await mockWithSourceRecords();
  try {
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery });
    const pipeline = await openPipeline(files.config, { stateUrl: "sqlite::memory:" });
    const controller = new AbortController();
    // count from the first committed record to the last, so start-up and group join are not measured
    const logger = pino({ level: "silent" });
    const worker = runKafkaWorker(pipeline, {
      signal: controller.signal,
      logger,
      batchSize: KAFKA_BATCH_SIZE,
    });
    const admin = kafka.admin();
    await admin.connect();
    let start = 0n;
    let cpuStart = process.cpuUsage();
    let seconds = 0;
    let cpuSeconds = 0;
    const profile = process.env.BENCH_KAFKA_PROFILE === "1" ? new Session() : null;
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const done = await committedTotal(admin);
      if (done > 0 && start === 0n) {
        start = process.hrtime.bigint();
        cpuStart = process.cpuUsage();
        if (profile) {
          profile.connect();
          await profile.post("Profiler.enable");
          await profile.post("Profiler.start");
        }
      }
      if (done >= THROUGHPUT_RECORDS) {
        seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const cpu = process.cpuUsage(cpuStart);
        cpuSeconds = (cpu.user + cpu.system) / 1e6;
        if (profile) {
          const { profile: p } = await profile.post("Profiler.stop");
          writeFileSync(join(root, "bench", "results", `kafka-${delivery}.cpuprofile`), JSON.stringify(p));
          profile.disconnect();
        }
        break;
      }
    }
    await admin.disconnect();
    controller.abort();
    await worker;
    await pipeline.close();
    return {
      delivery,
      records: THROUGHPUT_RECORDS,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(THROUGHPUT_RECORDS / seconds),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      target: delivery === "at-least-once" ? 50_000 : 20_000,
    };
  } finally {
    await mock.stop();
  }
}

interface StageRate {
  stage: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
}

function rate(stage: string, records: number, startNs: bigint, cpu: NodeJS.CpuUsage): StageRate {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    stage,
    records,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSecond: Math.round(records / seconds),
    cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)),
  };
}

/**
 * The three parts of the at-least-once path measured alone, on the same records and settings as the worker:
 * kafkajs consuming the Debezium records (eachBatch + toSourceRecord), the record processor (decode, map,
 * encode, headers), and the kafkajs producer publishing the events it made (idempotent, acks=all, one sendBatch
 * per 2000 events, 7 CloudEvents headers each). One JS thread does all three in turn, so the end-to-end rate
 * can be no better than 1 / (1/consume + 1/process + 1/produce).
 */
async function stageRates(): Promise<StageRate[]> {
  const { mock, kafka } = await mockWithSourceRecords();
  try {
    const rates: StageRate[] = [];

    // consume
    const consumer = kafka.consumer({ groupId: "bench.consume-only", ...FETCH_LIMITS, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [SOURCE_TOPIC], fromBeginning: true });
    const records: SourceRecord[] = [];
    let startNs = 0n;
    let cpu = process.cpuUsage();
    await new Promise<void>((done) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (startNs === 0n) {
            startNs = process.hrtime.bigint();
            cpu = process.cpuUsage();
          }
          for (const m of batch.messages) records.push(toSourceRecord(batch.topic, batch.partition, m));
          if (records.length >= THROUGHPUT_RECORDS) done();
          else if (records.length % 10_000 < batch.messages.length)
            console.error(`[bench] consumed ${records.length}`);
        },
      });
    });
    // from the first batch on: the group join is not counted
    rates.push(rate("kafkajs consumer alone (fetch + toSourceRecord)", records.length, startNs, cpu));
    await consumer.disconnect();

    // process
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery: "at-least-once" });
    const pipeline = await openPipeline(files.config, { stateUrl: "sqlite::memory:" });
    const outputs: PublishedRecord[] = [];
    for (const r of records.slice(0, 2_000)) pipeline.processor.process(r); // warm-up
    startNs = process.hrtime.bigint();
    cpu = process.cpuUsage();
    for (const r of records) {
      const o = pipeline.processor.process(r);
      if (o.kind === "events") outputs.push(...o.records);
    }
    rates.push(rate("record processor alone (decode, map, encode, headers)", records.length, startNs, cpu));
    await pipeline.close();
    if (outputs.length !== records.length)
      throw new Error(`expected one event per record, got ${outputs.length}`);

    // produce
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    await producer.sendBatch({ topicMessages: topicMessages(outputs.slice(0, 2_000)), acks: -1 }); // warm-up
    startNs = process.hrtime.bigint();
    cpu = process.cpuUsage();
    for (let i = 0; i < outputs.length; i += KAFKA_BATCH_SIZE)
      await producer.sendBatch({
        topicMessages: topicMessages(outputs.slice(i, i + KAFKA_BATCH_SIZE)),
        acks: -1,
      });
    rates.push(
      rate("kafkajs producer alone (idempotent, acks=all, 7 headers)", outputs.length, startNs, cpu),
    );
    await producer.disconnect();
    return rates;
  } finally {
    await mock.stop();
  }
}

/** A worker child process (the CLI, one node process) drains a backlog; its RSS is sampled from /proc. */
async function backlogRss(): Promise<{
  records: number;
  sourcePartitions: number;
  peakRssMb: number;
  vmHwmMb: number;
  seconds: number;
  recordsPerSecond: number;
  limitMb: number;
}> {
  const partitions = 16;
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions },
      { name: EVENT_TOPIC, partitions: 12 },
    ],
  });
  try {
    const kafka = quietKafka(mock.brokers);
    await produceItems(kafka, 0, BACKLOG_RECORDS, { gzip: true, chunk: 5_000 });
    if ((await partitionReport(kafka, SOURCE_TOPIC)).some((p) => p.low !== "0"))
      throw new Error("the mock dropped source records (5 MB per partition): use more partitions");
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery: "at-least-once" });
    const started = Date.now();
    // node itself (no tsx wrapper process): the pid sampled is the worker
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(root, "src", "cli", "main.ts"), "run", "--config", files.config],
      {
        env: { ...process.env, KAFKA_BROKERS: mock.bootstrap, LOG_LEVEL: "warn" },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const admin = kafka.admin();
    await admin.connect();
    let peak = 0;
    let hwm = 0;
    let firstCommit = 0;
    try {
      for (let i = 0; ; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const status = procStatus(child.pid!);
        peak = Math.max(peak, status.rssKb);
        hwm = Math.max(hwm, status.hwmKb);
        if (i % 5 !== 0) continue;
        const done = await committedTotal(admin);
        if (done > 0 && !firstCommit) firstCommit = Date.now();
        if (done >= BACKLOG_RECORDS) break;
        if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      }
    } finally {
      await admin.disconnect();
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    const drained = (Date.now() - firstCommit) / 1000;
    return {
      records: BACKLOG_RECORDS,
      sourcePartitions: partitions,
      peakRssMb: Math.round(peak / 1024),
      vmHwmMb: Math.round(hwm / 1024),
      seconds: (Date.now() - started) / 1000,
      recordsPerSecond: Math.round(BACKLOG_RECORDS / drained),
      limitMb: 300,
    };
  } finally {
    await mock.stop();
  }
}

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
    };
  } catch {
    return { rssKb: 0, hwmKb: 0 };
  }
}

mkdirSync(join(root, "bench", "results"), { recursive: true });
const skipThroughput = process.env.BENCH_KAFKA_SKIP_THROUGHPUT === "1";
/** BENCH_KAFKA_ONLY=modes,stages,backlog,held runs only those parts */
const only = process.env.BENCH_KAFKA_ONLY?.split(",");
const part = (name: string, skipped: boolean) => (only ? only.includes(name) : !skipped);
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model ?? ""} × ${cpus().length}`,
  loadAverageAtStart: loadavg()[0],
  note:
    "librdkafka mock cluster (3 brokers) on the same machine; synthetic table, one event per record with 7 " +
    "CloudEvents headers; throughput: 12 uncompressed source partitions, one worker in-process; backlog: the CLI " +
    "worker process, gzip source in 16 partitions",
  throughput: part("modes", skipThroughput)
    ? [await throughput("at-least-once"), await throughput("exactly-once")]
    : null,
  stagesAlone: part("stages", skipThroughput) ? await stageRates() : null,
  backlog: part("backlog", process.env.BENCH_KAFKA_SKIP_BACKLOG === "1") ? await backlogRss() : null,
  // requires: (a third of the children parked) and transaction aggregates on: bench/kafka-held.ts
  held: part("held", false) ? await heldThroughput() : null,
};
writeFileSync(join(root, "bench", "results", "kafka.json"), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results, null, 2));
