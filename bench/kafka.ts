// `npm run bench` (Kafka part): end-to-end records/s of the worker through the librdkafka mock cluster in both
// delivery modes (backlog produced first, then the worker runs until it committed all of it), and the peak RSS
// of a worker process draining a 1M-record backlog. Results: bench/results/kafka.json.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { openPipeline } from "../src/cli/pipeline.js";
import { runKafkaWorker } from "../src/cli/run.js";
import { startMockKafka } from "../test/infra/mock-kafka.js";
import {
  EVENT_TOPIC,
  produceItems,
  quietKafka,
  SOURCE_TOPIC,
  syntheticPipeline,
} from "../test/kafka/helpers.js";

const root = join(import.meta.dirname, "..");
const THROUGHPUT_RECORDS = Number(process.env.BENCH_KAFKA_RECORDS ?? 100_000);
const BACKLOG_RECORDS = Number(process.env.BENCH_KAFKA_BACKLOG ?? 1_000_000);

interface Throughput {
  delivery: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  target: number;
}

async function throughput(delivery: "at-least-once" | "exactly-once"): Promise<Throughput> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: 4 },
      { name: EVENT_TOPIC, partitions: 4 },
    ],
  });
  try {
    await produceItems(quietKafka(mock.brokers), 0, THROUGHPUT_RECORDS);
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery });
    const pipeline = await openPipeline(files.config, { stateUrl: "sqlite::memory:" });
    const controller = new AbortController();
    let start = 0n;
    let seconds = 0;
    // count from the first committed record to the last, so start-up and group join are not measured
    const logger = pino({ level: "silent" });
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger, batchSize: 2_000 });
    const admin = quietKafka(mock.brokers).admin();
    await admin.connect();
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const [offsets] = await admin.fetchOffsets({ groupId: `changecast.items`, topics: [SOURCE_TOPIC] });
      const done = (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      if (done > 0 && start === 0n) start = process.hrtime.bigint();
      if (done >= THROUGHPUT_RECORDS) {
        seconds = Number(process.hrtime.bigint() - start) / 1e9;
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
      target: delivery === "at-least-once" ? 50_000 : 20_000,
    };
  } finally {
    await mock.stop();
  }
}

/** A worker child process (the CLI) drains a backlog; its RSS is sampled from /proc every 100 ms. */
async function backlogRss(): Promise<{
  records: number;
  peakRssMb: number;
  seconds: number;
  limitMb: number;
}> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: 4 },
      { name: EVENT_TOPIC, partitions: 4 },
    ],
  });
  try {
    await produceItems(quietKafka(mock.brokers), 0, BACKLOG_RECORDS);
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery: "at-least-once" });
    const started = Date.now();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(root, "src", "cli", "main.ts"), "run", "--config", files.config],
      {
        env: { ...process.env, KAFKA_BROKERS: mock.bootstrap, LOG_LEVEL: "warn" },
        stdio: ["ignore", "ignore", "ignore"],
      },
    );
    const admin = quietKafka(mock.brokers).admin();
    await admin.connect();
    let peak = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, treeRssKb(child.pid!));
      const [offsets] = await admin.fetchOffsets({ groupId: `changecast.items`, topics: [SOURCE_TOPIC] });
      const done = (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      if (done >= BACKLOG_RECORDS) break;
    }
    await admin.disconnect();
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    return {
      records: BACKLOG_RECORDS,
      peakRssMb: Math.round(peak / 1024),
      seconds: (Date.now() - started) / 1000,
      limitMb: 300,
    };
  } finally {
    await mock.stop();
  }
}

/** RSS of a process and its children (tsx runs the worker in a child node process). */
function treeRssKb(pid: number): number {
  let total = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    for (const c of children) total += treeRssKb(Number(c));
  } catch {
    // exited between samples
  }
  return total;
}

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: (await import("node:os")).cpus()[0]?.model ?? "",
  note: "librdkafka mock cluster (3 brokers, 4 partitions) on the same machine; synthetic table, 7 CloudEvents headers per event",
  throughput: [await throughput("at-least-once"), await throughput("exactly-once")],
  backlog: process.env.BENCH_KAFKA_SKIP_BACKLOG ? null : await backlogRss(),
};
mkdirSync(join(root, "bench", "results"), { recursive: true });
writeFileSync(join(root, "bench", "results", "kafka.json"), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results, null, 2));
