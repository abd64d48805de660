// `npm run bench`: replay throughput of the example pipeline on one core, and the floor (JSON.parse + Avro
// encode of the same records). Results go to bench/results/latest.json and .md.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { globSync } from "tinyglobby";
import type { OpenPipeline } from "../src/cli/pipeline.js";
import { openReplayPipeline } from "../src/cli/replay.js";
import type { PublishedRecord } from "../src/publish/output-record.js";
import { heldRecords } from "../src/worker/held-changes.js";
import type { SourceRecord } from "../src/decode/change-event.js";
import { parseKcatLine } from "../src/decode/kcat.js";
import { benchReplayCommand } from "./replay-command.js";
import { benchState } from "./state.js";

interface Result {
  name: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** CPU time of the process (user + system) over the run: on a shared machine wall time also counts waits */
  cpuSeconds: number;
  recordsPerCpuSecond: number;
  note: string;
}

const root = join(import.meta.dirname, "..");
const minSeconds = Number(process.env.BENCH_SECONDS ?? 3);

function loadRecords(pattern: string): SourceRecord[] {
  return globSync(pattern, { cwd: root, absolute: true })
    .sort()
    .flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => parseKcatLine(l)),
    );
}

/** Runs `pass` over the records until minSeconds have passed; returns records/s. */
function measure(
  name: string,
  records: SourceRecord[],
  note: string,
  pass: (r: SourceRecord) => void,
): Result {
  for (const r of records.slice(0, 500)) pass(r); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let seconds = 0;
  do {
    for (const r of records) pass(r);
    n += records.length;
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
  } while (seconds < minSeconds);
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    name,
    records: n,
    seconds,
    recordsPerSecond: Math.round(n / seconds),
    cpuSeconds,
    recordsPerCpuSecond: Math.round(n / cpuSeconds),
    note,
  };
}

/**
 * Replay of the example: passes over the captures in time order (as the embedded run merges its files), each
 * with a fresh in-memory table state, every record as `replay` drives it (prepare → process → held outcomes →
 * beforeCommit). Returns the rate and the events of the last pass per record (for the floor).
 */
async function measureReplay(
  name: string,
  configFile: string,
  records: SourceRecord[],
  note: string,
): Promise<{
  result: Result;
  outputs: Map<SourceRecord, PublishedRecord[]>;
  declarations: OpenPipeline["transforms"]["declarations"];
}> {
  let n = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  let outputs = new Map<SourceRecord, PublishedRecord[]>();
  let declarations: OpenPipeline["transforms"]["declarations"] = [];
  do {
    const pipeline = await openReplayPipeline(join(root, configFile));
    declarations = pipeline.transforms.declarations;
    outputs = new Map();
    try {
      const p = pipeline.processor;
      const start = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      for (const r of records) {
        await p.prepare([r]);
        const o = p.process(r);
        const out = o.kind === "events" ? [...o.records] : [];
        for (const h of p.takeHeldOutcomes()) out.push(...heldRecords(h));
        await p.beforeCommit([r]);
        outputs.set(r, out);
      }
      const used = process.cpuUsage(cpu);
      seconds += Number(process.hrtime.bigint() - start) / 1e9;
      cpuSeconds += (used.user + used.system) / 1e6;
      n += records.length;
    } finally {
      await pipeline.close();
    }
  } while (seconds < minSeconds);
  const result = {
    name,
    records: n,
    seconds,
    recordsPerSecond: Math.round(n / seconds),
    cpuSeconds,
    recordsPerCpuSecond: Math.round(n / cpuSeconds),
    note,
  };
  return { result, outputs, declarations };
}

async function benchFlavour(flavour: "postgres" | "oracle", configFile: string): Promise<Result[]> {
  const records = loadRecords(`captures/${flavour}/*.jsonl`)
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.timestamp ?? 0) - (b.r.timestamp ?? 0) || a.i - b.i)
    .map((x) => x.r);
  {
    const {
      result: replay,
      outputs,
      declarations,
    } = await measureReplay(
      `replay ${flavour} (decode+map+encode)`,
      configFile,
      records,
      "JsonConverter schemas.enable=true; table state, lookups, requires, aggregates as in the example",
    );
    // The floor: only JSON.parse of each payload and the Avro encoding of the events it yields.
    const schemas = new Map(declarations.map((d) => [d.schema.fullName, d.schema]));
    const floorItems = new Map(
      records.map((r) => {
        const values = (outputs.get(r) ?? [])
          .filter((p) => p.view.headers.ce_type !== undefined && schemas.has(p.view.headers.ce_type))
          .map((p) => {
            const schema = schemas.get(p.view.headers.ce_type ?? "")!;
            return { schema, value: schema.decode(p.record.value!.subarray(5)) };
          });
        return [r, { text: r.value ? r.value.toString("utf8") : "null", values }] as const;
      }),
    );
    const floor = measure(
      `floor ${flavour} (JSON.parse + avsc encode)`,
      records,
      "no logical types, no CEL",
      (r) => {
        const item = floorItems.get(r)!;
        JSON.parse(item.text);
        for (const v of item.values) v.schema.encode(v.value);
      },
    );
    return [replay, floor];
  }
}

const results = [
  ...(await benchFlavour("postgres", "changecast.yaml")),
  ...(await benchFlavour("oracle", "changecast.oracle.yaml")),
  // table state, lookups, dependencies, aggregates: bench/state.ts
  ...(await benchState(minSeconds)).map(({ events, ...r }) => ({
    ...r,
    note: `${r.note}; ${events} events`,
  })),
];
// the whole replay command over 100 000 records vs the naive floor, and the processor alone (replay-command.ts)
const ratios: string[] = [];
for (const [flavour, config] of [
  ["postgres", "changecast.yaml"],
  ["oracle", "changecast.oracle.yaml"],
] as const) {
  if (process.env.BENCH_REPLAY === "0") break;
  const command = await benchReplayCommand(root, flavour, config);
  results.push(...command.results);
  ratios.push(...command.ratios);
}
const outDir = join(root, "bench", "results");
mkdirSync(outDir, { recursive: true });
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: (await import("node:os")).cpus()[0]?.model ?? "",
};
writeFileSync(join(outDir, "latest.json"), JSON.stringify({ ...meta, results, ratios }, null, 2) + "\n");
const md = [
  `# Benchmark ${meta.date}`,
  "",
  `node ${meta.node}, ${meta.cpu}, one core`,
  "",
  "| benchmark | records/s | records/cpu-s | records | seconds | cpu-s | note |",
  "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.recordsPerSecond} | ${r.recordsPerCpuSecond} | ${r.records} | ` +
      `${r.seconds.toFixed(2)} | ${r.cpuSeconds.toFixed(2)} | ${r.note} |`,
  ),
  "",
  ...ratios.map((r) => `- ${r}`),
  "",
].join("\n");
writeFileSync(join(outDir, "latest.md"), md);
console.log(md);
