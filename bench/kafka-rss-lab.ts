// Peak RSS of `changecast run` variants on one 1M-record gzip backlog (outside `npm run bench`): the backlog is
// produced once, then each variant (node flags, environment, client) drains it as its own consumer group, and its
// peak RSS (VmRSS every 100 ms), drain rate and records per CPU-s are printed; LAB_SMAPS=1 adds the peak's memory
// map by region. Node flags such as `--import <preload>` or `--heapsnapshot-signal=SIGUSR2` (LAB_SNAP=<tick>)
// help find what holds the memory (docs/kafka.md, Throughput).
// Usage: LAB='[{"name":"default"},{"name":"semi64","node":["--max-semi-space-size=64"]},
//   {"name":"rd","client":"librdkafka"}]' LAB_REPEAT=2 npx tsx bench/kafka-rss-lab.ts
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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
const N = Number(process.env.BENCH_KAFKA_BACKLOG ?? 1_000_000);
interface Variant {
  name: string;
  node?: string[];
  env?: Record<string, string>;
  client?: "kafkajs" | "librdkafka";
  delivery?: "at-least-once" | "exactly-once";
  args?: string[];
}
const variants = JSON.parse(process.env.LAB ?? "[]") as Variant[];
const repeat = Number(process.env.LAB_REPEAT ?? 1);
const mock = await startMockKafka({
  brokers: 3,
  topics: [
    { name: SOURCE_TOPIC, partitions: 16 },
    { name: EVENT_TOPIC, partitions: 12 },
  ],
});
const kafka = quietKafka(mock.brokers);
await produceItems(kafka, 0, N, { gzip: true, chunk: 5_000 });
if ((await partitionReport(kafka, SOURCE_TOPIC)).some((p) => p.low !== "0")) throw new Error("dropped");
const admin = kafka.admin();
await admin.connect();
const stat = (pid: number) => {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0),
      hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0),
      cpu: (Number(f[11]) + Number(f[12])) / 100,
    };
  } catch {
    return { rss: 0, hwm: 0, cpu: 0 };
  }
};
let run = 0;
function smaps(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/smaps`, "utf8");
    const cats = new Map<string, number>();
    let name = "";
    for (const line of text.split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        name = head[1] || "(anon)";
        if (name.includes("/")) name = name.split("/").pop()!;
        continue;
      }
      const m = /^Rss:\s+(\d+)/.exec(line);
      if (m) cats.set(name, (cats.get(name) ?? 0) + Number(m[1]));
    }
    return [...cats]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([k, v]) => `${k}=${Math.round(v / 1024)}`)
      .join(" ");
  } catch {
    return "";
  }
}
for (let r = 0; r < repeat; r++)
  for (const v of variants) {
    const pipeline = `lab${run++}`;
    const files = syntheticPipeline({
      brokers: "${KAFKA_BROKERS}",
      delivery: v.delivery ?? "at-least-once",
      client: v.client ?? "kafkajs",
      pipeline,
    });
    const child = spawn(
      process.execPath,
      [
        ...(v.node ?? []),
        join(root, "bin", "changecast.js"),
        "run",
        "--config",
        files.config,
        ...(v.args ?? []),
      ],
      {
        env: { ...process.env, KAFKA_BROKERS: mock.bootstrap, LOG_LEVEL: "warn", ...v.env },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let lastMem = "";
    child.stderr!.on("data", (c: Buffer) => {
      for (const l of c.toString().split("\n"))
        if (l.startsWith("MEMPEAK")) lastMem = l;
        else if (l.trim() && !l.includes("Timeout"))
          process.stderr.write(`  [${v.name}] ${l.slice(0, 300)}\n`);
    });
    let peakMaps = "";
    let peak = 0,
      hwm = 0,
      first = 0,
      cpu0 = 0;
    const started = Date.now();
    for (let i = 0; ; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const s = stat(child.pid!);
      if (s.rss > peak && process.env.LAB_SMAPS) peakMaps = smaps(child.pid!);
      peak = Math.max(peak, s.rss);
      hwm = Math.max(hwm, s.hwm);
      if (process.env.LAB_SNAP && i === Number(process.env.LAB_SNAP)) child.kill("SIGUSR2");
      if (i % 5) continue;
      const [o] = await admin.fetchOffsets({ groupId: `changecast.${pipeline}`, topics: [SOURCE_TOPIC] });
      const done = (o?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      if (done > 0 && !first) {
        first = Date.now();
        cpu0 = s.cpu;
      }
      if (done >= N) break;
      if (child.exitCode !== null) throw new Error(`exit ${child.exitCode}`);
      if (Date.now() - started > 600_000) throw new Error("timeout");
    }
    const cpu = stat(child.pid!).cpu - cpu0;
    const secs = (Date.now() - first) / 1000;
    const exited = new Promise((res) => child.once("exit", res));
    child.kill("SIGTERM");
    await exited;
    if (peakMaps) console.log(peakMaps);
    console.log(
      `${v.name}: peak ${Math.round(peak / 1024)} MB (hwm ${Math.round(hwm / 1024)}), ${Math.round(N / secs)} rec/s, ${Math.round(N / cpu)} rec/CPU-s | ${lastMem}`,
    );
  }
await admin.disconnect();
await mock.stop();
