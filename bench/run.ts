// `npm run bench`: replay throughput of the example pipeline on one core, and the floor (JSON.parse + Avro
// encode of the same records). Results go to bench/results/latest.json and .md.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { globSync } from "tinyglobby";
import { openPipeline } from "../src/cli/pipeline.js";
import type { SourceRecord } from "../src/decode/change-event.js";
import { parseKcatLine } from "../src/decode/kcat.js";
import { benchReplayCommand } from "./replay-command.js";

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

async function benchFlavour(flavour: "postgres" | "oracle", configFile: string): Promise<Result[]> {
  const records = loadRecords(`captures/${flavour}/*.jsonl`);
  const pipeline = await openPipeline(join(root, configFile), {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
  });
  try {
    const { processor } = pipeline;
    const replay = measure(
      `replay ${flavour} (decode+map+encode)`,
      records,
      "JsonConverter schemas.enable=true",
      (r) => processor.process(r),
    );
    // The floor: only JSON.parse of each payload and the Avro encoding of the events it yields.
    const schemas = new Map(pipeline.transforms.declarations.map((d) => [d.schema.fullName, d.schema]));
    const floorItems = new Map(
      records.map((r) => {
        const o = processor.process(r);
        const values =
          o.kind === "events"
            ? o.records.map((p) => {
                const schema = schemas.get(p.view.headers.ce_type ?? "")!;
                return { schema, value: schema.decode(p.record.value!.subarray(5)) };
              })
            : [];
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
  } finally {
    await pipeline.close();
  }
}

const results = [
  ...(await benchFlavour("postgres", "changecast.yaml")),
  ...(await benchFlavour("oracle", "changecast.oracle.yaml")),
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
