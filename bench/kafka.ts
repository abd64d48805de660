// Kafka part of the benchmarks (`npx tsx bench/kafka.ts`, part of `npm run bench`). Results: bench/results/kafka.json.
//
// - kcat: the floor. A raw copy of the source records with kcat (librdkafka's CLI, Debian package) through the same
//   mock broker: `kcat -C … | kcat -P …` (idempotent, acks=all), no decoding, mapping or encoding.
// - modes: the compiled `changecast run` command (a CLI worker process) on the same records, at-least-once and exactly-once,
//   for each Kafka client (`kafka.client: kafkajs | librdkafka`), from the moment the worker holds its partitions
//   to the last commit; printed as ratios to kcat (targets ≥ 0.5× at-least-once, ≥ 0.3× exactly-once).
// - scale: `changecast run --workers N` (N worker processes in the group, Postgres state) for N = 1 and 2.
// - stages: the three parts of the kafkajs path measured alone (consumer, record processor, producer).
// - backlog: the peak RSS of a CLI worker process draining a 1M-record backlog, per client (target ≤ 300 MB).
//
// Input: 100 000 synthetic Debezium records (JsonConverter, schemas.enable=false) in 12 partitions, lz4-compressed
// as a Debezium connector with compression.type=lz4 writes them. The mock keeps at most 5 MB per partition log and
// silently drops older records (test/kafka/helpers.ts, MOCK_PARTITION_LOG_BYTES), so every run checks the source
// still starts at offset 0. (Event topics may overflow: nothing reads them.)
//
// Environment: BENCH_KAFKA_RECORDS (default 100 000), BENCH_KAFKA_BACKLOG (default 1 000 000),
// BENCH_KAFKA_ONLY=kcat,modes,scale,stages,backlog,held (a subset), BENCH_KAFKA_CLIENTS=kafkajs,librdkafka,
// BENCH_KAFKA_BACKLOG_CLIENTS (default: every client), BENCH_KAFKA_SKIP_BACKLOG=1, BENCH_KAFKA_PROFILE=1 (the CLI
// workers run with `node --cpu-prof`; profiles in bench/results/profiles/), BENCH_KAFKA_BATCH_SIZE (the workers'
// --batch-size; default KAFKA_BATCH_SIZE, 2000), BENCH_KAFKA_NODE_FLAGS (node flags of the modes' and scale's CLI
// workers, e.g. `--max-semi-space-size=64 --heap-growing-percent=0` for V8's own heap sizing),
// BENCH_KAFKA_CLI=tsx (src/ through tsx instead of the compiled CLI).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { openPipeline } from "../src/cli/pipeline.js";
import { KAFKA_BATCH_SIZE } from "../src/cli/run.js";
import type { KafkaClientName } from "../src/config/schema.js";
import type { SourceRecord } from "../src/decode/change-event.js";
import { FETCH_LIMITS, toSourceRecord, topicMessages } from "../src/kafka/kafka-transport.js";
import { librdkafkaAvailable } from "../src/kafka/librdkafka-api.js";
import type { PublishedRecord } from "../src/publish/output-record.js";
import { Partitioners, type Kafka } from "kafkajs";
import { startMockKafka } from "../test/infra/mock-kafka.js";
import { heldThroughput } from "./kafka-held.js";
import { startPostgres } from "../test/infra/postgres.js";
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
const PARTITIONS = 12;
const PROFILE = process.env.BENCH_KAFKA_PROFILE === "1";
const PROFILE_DIR = join(root, "bench", "results", "profiles");
const CLIENTS = (process.env.BENCH_KAFKA_CLIENTS?.split(",") ??
  (librdkafkaAvailable() ? ["kafkajs", "librdkafka"] : ["kafkajs"])) as KafkaClientName[];

async function committedTotal(admin: ReturnType<ReturnType<typeof quietKafka>["admin"]>): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [SOURCE_TOPIC] });
  return (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

type Mock = Awaited<ReturnType<typeof startMockKafka>>;

/** A mock cluster holding `records` lz4 source records in 12 partitions (all still there). */
async function mockWithSourceRecords(
  records = THROUGHPUT_RECORDS,
  extraTopics: string[] = [],
): Promise<{ mock: Mock; kafka: Kafka }> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: PARTITIONS },
      { name: EVENT_TOPIC, partitions: PARTITIONS },
      ...extraTopics.map((name) => ({ name, partitions: PARTITIONS })),
    ],
  });
  try {
    const kafka = quietKafka(mock.brokers);
    await produceItems(kafka, 0, records, { lz4: true, chunk: 5_000 });
    if ((await partitionReport(kafka, SOURCE_TOPIC)).some((p) => p.low !== "0"))
      throw new Error("the mock dropped source records (5 MB per partition): use more partitions");
    return { mock, kafka };
  } catch (err) {
    await mock.stop();
    throw err;
  }
}

async function highWatermarks(kafka: Kafka, topic: string): Promise<number> {
  return (await partitionReport(kafka, topic)).reduce((n, p) => n + Number(p.high), 0);
}

interface Rate {
  records: number;
  seconds: number;
  recordsPerSecond: number;
}

/**
 * The floor: kcat copies the source topic to another topic of the same mock, raw (idempotent, acks=all). A copy
 * takes under a second, so one is at the mercy of a moment's load (one run measured 74 000 records/s where the runs
 * before measured 160 000–168 000): three copies, to three topics, and the median is the floor.
 */
async function kcatCopy(): Promise<Rate & { command: string; runs: number[] }> {
  const COPIES = ["bench.kcat-copy-1", "bench.kcat-copy-2", "bench.kcat-copy-3"];
  const { mock, kafka } = await mockWithSourceRecords(THROUGHPUT_RECORDS, COPIES);
  try {
    const b = mock.bootstrap;
    const commandTo = (topic: string) =>
      `kcat -C -b ${b} -t ${SOURCE_TOPIC} -o beginning -e -q -K '\t' | ` +
      `kcat -P -b ${b} -t ${topic} -K '\t' -X enable.idempotence=true -X acks=all -X linger.ms=5`;
    const runs: { seconds: number; recordsPerSecond: number }[] = [];
    for (const topic of COPIES) {
      const started = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) => {
        const child = spawn("bash", ["-o", "pipefail", "-c", commandTo(topic)], {
          stdio: ["ignore", "ignore", "inherit"],
        });
        child.once("error", reject);
        child.once("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`kcat copy exited with ${code}`)),
        );
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const copied = await highWatermarks(kafka, topic);
      if (copied !== THROUGHPUT_RECORDS)
        throw new Error(`kcat copied ${copied} of ${THROUGHPUT_RECORDS} records`);
      runs.push({ seconds, recordsPerSecond: Math.round(copied / seconds) });
    }
    const median = [...runs].sort((x, y) => x.recordsPerSecond - y.recordsPerSecond)[1]!;
    return {
      command: commandTo("bench.kcat-copy").replaceAll(b, "<bootstrap>"),
      records: THROUGHPUT_RECORDS,
      seconds: Number(median.seconds.toFixed(2)),
      recordsPerSecond: median.recordsPerSecond,
      runs: runs.map((r) => r.recordsPerSecond),
    };
  } finally {
    await mock.stop();
  }
}

/**
 * Starts `changecast run` as users do: the compiled CLI (`npm run bench` builds dist/ first), node itself, no
 * wrapper (the pid sampled is the worker, or the --workers parent); BENCH_KAFKA_CLI=tsx runs src/ instead.
 */
function startCli(config: string, env: NodeJS.ProcessEnv, args: string[] = []): ChildProcess {
  const profile = [
    ...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    ...(process.env.BENCH_KAFKA_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
  const cli =
    process.env.BENCH_KAFKA_CLI === "tsx"
      ? ["--import", "tsx", ...profile, join(root, "src", "cli", "main.ts")]
      : [...profile, join(root, "bin", "changecast.js")];
  return spawn(process.execPath, [...cli, "run", "--config", config, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** CPU seconds (user + system) used so far by a process and its direct children (the --workers processes). */
function cpuSecondsOf(pid: number): number {
  const ticks = (p: number | string) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      return 0;
    }
  };
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    // no children file: the process itself only
  }
  return (ticks(pid) + children.reduce((n, c) => n + ticks(c), 0)) / 100;
}

/** Latest assignment per worker pid from the workers' JSON logs: the group is settled when `workers` hold all. */
function assignmentWatcher(child: ChildProcess): { holding: () => Map<number, number> } {
  const held = new Map<number, number>();
  let partial = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as {
          pid?: number;
          assignment?: Record<string, number[]>;
          msg?: string;
        };
        if (entry.pid === undefined) continue;
        if (entry.assignment) held.set(entry.pid, Object.values(entry.assignment).flat().length);
        else if (entry.msg?.startsWith("partitions revoked")) held.set(entry.pid, 0);
      } catch {
        // not a log line
      }
    }
  });
  return { holding: () => held };
}

interface RunRate extends Rate {
  client: KafkaClientName;
  delivery: string;
  workers: number;
  /** CPU time of the worker process(es) during the measurement, and records per CPU second (less load-dependent) */
  cpuSeconds: number;
  recordsPerCpuSecond: number;
}

/**
 * `changecast run` (N worker processes with --workers N) on the lz4 source: the rate from the moment the workers
 * hold all partitions to the last commit (start-up and group join excluded; records committed before that moment
 * are not counted).
 */
async function cliThroughput(
  delivery: "at-least-once" | "exactly-once",
  client: KafkaClientName,
  workers = 1,
): Promise<RunRate> {
  const { mock, kafka } = await mockWithSourceRecords();
  const pg = workers > 1 ? await startPostgres() : null;
  try {
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery, client });
    if (pg)
      writeFileSync(
        files.config,
        readFileSync(files.config, "utf8").replace(/^state: .*$/m, `state: ${pg.url}`),
      );
    const child = startCli(
      files.config,
      { KAFKA_BROKERS: mock.bootstrap, KAFKA_SESSION_TIMEOUT_MS: "6000", KAFKA_HEARTBEAT_INTERVAL_MS: "500" },
      [
        ...(workers > 1 ? ["--workers", String(workers)] : []),
        ...(process.env.BENCH_KAFKA_BATCH_SIZE ? ["--batch-size", process.env.BENCH_KAFKA_BATCH_SIZE] : []),
      ],
    );
    const watcher = assignmentWatcher(child);
    let tail = "";
    child.stderr?.on("data", (c: Buffer) => (tail = (tail + c.toString()).slice(-4_000)));
    const admin = kafka.admin();
    await admin.connect();
    let startNs = 0n;
    let startCommitted = 0;
    let seconds = 0;
    let startCpu = 0;
    let cpuSeconds = 0;
    try {
      const deadline = Date.now() + 300_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 50));
        if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${tail}`);
        if (Date.now() > deadline) throw new Error(`timed out: ${tail}`);
        const held = [...watcher.holding().values()];
        if (startNs === 0n) {
          if (held.filter((n) => n > 0).length < workers || held.reduce((a, b) => a + b, 0) < PARTITIONS)
            continue;
          startNs = process.hrtime.bigint();
          startCpu = cpuSecondsOf(child.pid!);
          startCommitted = await committedTotal(admin);
          continue;
        }
        if ((await committedTotal(admin)) >= THROUGHPUT_RECORDS) {
          seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
          cpuSeconds = cpuSecondsOf(child.pid!) - startCpu;
          break;
        }
      }
    } finally {
      await admin.disconnect();
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    const records = THROUGHPUT_RECORDS - startCommitted;
    return {
      client,
      delivery,
      workers,
      records,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(records / seconds),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      recordsPerCpuSecond: Math.round(records / cpuSeconds),
    };
  } finally {
    await mock.stop();
    await pg?.stop();
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
async function backlogRss(client: KafkaClientName): Promise<{
  client: KafkaClientName;
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
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery: "at-least-once", client });
    const started = Date.now();
    // node itself (no tsx wrapper process): the pid sampled is the worker
    const child = spawn(
      process.execPath,
      // the compiled CLI, as installed (`npm run bench` builds dist/ first); BENCH_KAFKA_CLI=tsx runs src/ instead
      process.env.BENCH_KAFKA_CLI === "tsx"
        ? ["--import", "tsx", join(root, "src", "cli", "main.ts"), "run", "--config", files.config]
        : [join(root, "bin", "changecast.js"), "run", "--config", files.config],
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
      client,
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
if (PROFILE) mkdirSync(PROFILE_DIR, { recursive: true });
/** BENCH_KAFKA_ONLY=kcat,modes,scale,stages,backlog,held runs only those parts */
const only = process.env.BENCH_KAFKA_ONLY?.split(",");
const part = (name: string, skipped = false) => (only ? only.includes(name) : !skipped);
const kcat = part("kcat") || part("modes") ? await kcatCopy() : null;
if (kcat)
  console.error(`[bench] kcat copy: ${kcat.recordsPerSecond} records/s (median of ${kcat.runs.join(", ")})`);
const modes: (RunRate & { ratioToKcat: number | null; target: number })[] = [];
if (part("modes"))
  for (const client of CLIENTS)
    for (const delivery of ["at-least-once", "exactly-once"] as const) {
      const r = await cliThroughput(delivery, client);
      const ratio = kcat ? Number((r.recordsPerSecond / kcat.recordsPerSecond).toFixed(3)) : null;
      const target = delivery === "at-least-once" ? 0.5 : 0.3;
      modes.push({ ...r, ratioToKcat: ratio, target });
      console.error(
        `[bench] run ${client} ${delivery}: ${r.recordsPerSecond} records/s = ${ratio}× kcat (target ${target}×); ${r.recordsPerCpuSecond} records/CPU-s`,
      );
    }
const scale: RunRate[] = [];
if (part("scale")) {
  const client = (process.env.BENCH_KAFKA_SCALE_CLIENT ?? CLIENTS[CLIENTS.length - 1]) as KafkaClientName;
  for (const workers of [1, 2]) {
    const r = await cliThroughput("at-least-once", client, workers);
    scale.push(r);
    console.error(
      `[bench] run --workers ${workers} (${client}, at-least-once): ${r.recordsPerSecond} records/s`,
    );
  }
}
const stagesAlone = part("stages") ? await stageRates() : null;
const backlog = [];
if (part("backlog", process.env.BENCH_KAFKA_SKIP_BACKLOG === "1"))
  for (const client of (process.env.BENCH_KAFKA_BACKLOG_CLIENTS?.split(",") ??
    CLIENTS) as KafkaClientName[]) {
    const b = await backlogRss(client);
    backlog.push(b);
    console.error(
      `[bench] 1M backlog ${client}: peak RSS ${b.peakRssMb} MB, ${b.recordsPerSecond} records/s`,
    );
  }
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model ?? ""} × ${cpus().length}`,
  loadAverageAtStart: loadavg()[0],
  note:
    "librdkafka mock cluster (3 brokers) on the same machine; synthetic table, one event per record with 7 " +
    "CloudEvents headers; kcat and modes: 12 lz4 source partitions, the CLI worker process; scale: --workers N " +
    "with a Postgres state; backlog: the CLI worker process, gzip source in 16 partitions",
  kcat,
  modes,
  scale,
  stagesAlone,
  backlog,
  // requires: (a third of the children parked) and transaction aggregates on: bench/kafka-held.ts
  held: part("held") ? await heldThroughput() : null,
};
writeFileSync(join(root, "bench", "results", "kafka.json"), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results, null, 2));
