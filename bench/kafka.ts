// Kafka part of the benchmarks (`npx tsx bench/kafka.ts`): end-to-end records/s of the worker through the
// librdkafka mock cluster in both delivery modes (backlog produced first, then the worker runs until it committed
// all of it), and the peak RSS of a CLI worker process draining a 1M-record backlog. Results:
// bench/results/kafka.json.
//
// The mock keeps at most 5 MB per partition log and silently drops older records (test/kafka/helpers.ts,
// MOCK_PARTITION_LOG_BYTES), so the source topics are sized to hold the whole backlog: 12 partitions for the
// uncompressed throughput runs (~3 MB each), gzip and 16 partitions for the 1M backlog (~1.6 MB each). Each run
// checks that the source still starts at offset 0. (Event topics may overflow: the worker never reads them.)
//
// Environment: BENCH_KAFKA_RECORDS (throughput records, default 100 000), BENCH_KAFKA_BACKLOG (default
// 1 000 000), BENCH_KAFKA_SKIP_BACKLOG=1, BENCH_KAFKA_SKIP_THROUGHPUT=1, BENCH_KAFKA_PROFILE=1 (CPU profile of
// the throughput runs into bench/results/).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Session } from "node:inspector/promises";
import { pino } from "pino";
import { openPipeline } from "../src/cli/pipeline.js";
import { KAFKA_BATCH_SIZE, runKafkaWorker } from "../src/cli/run.js";
import { startMockKafka } from "../test/infra/mock-kafka.js";
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

async function throughput(delivery: "at-least-once" | "exactly-once"): Promise<Throughput> {
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
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model ?? ""} × ${cpus().length}`,
  loadAverageAtStart: loadavg()[0],
  note:
    "librdkafka mock cluster (3 brokers) on the same machine; synthetic table, one event per record with 7 " +
    "CloudEvents headers; throughput: 12 uncompressed source partitions, one worker in-process; backlog: the CLI " +
    "worker process, gzip source in 16 partitions",
  throughput: skipThroughput ? null : [await throughput("at-least-once"), await throughput("exactly-once")],
  backlog: process.env.BENCH_KAFKA_SKIP_BACKLOG === "1" ? null : await backlogRss(),
};
writeFileSync(join(root, "bench", "results", "kafka.json"), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results, null, 2));
