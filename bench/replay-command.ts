// The whole `changecast replay` command (compiled CLI, bin/changecast.js on dist/) over 100 000 JsonConverter
// records with schemas, against a naive floor over the same records measured in the same run, and the record
// processor alone over the same records. CPU time is the child's user + system time (all its threads), taken
// by a preload at exit; wall time includes start-up (module loading, transforms, schemas).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openReplayPipeline } from "../src/cli/replay.js";
import { parseKcatLine } from "../src/decode/kcat.js";
import type { EventSchema } from "../src/encode/event-schema.js";
import { captureLines, writeReplayInput } from "./replay-input.js";

export interface CommandResult {
  name: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  recordsPerCpuSecond: number;
  note: string;
}

const RECORDS = Number(process.env.BENCH_REPLAY_RECORDS ?? 100_000);

function result(
  name: string,
  records: number,
  seconds: number,
  cpuSeconds: number,
  note: string,
): CommandResult {
  return {
    name,
    records,
    seconds,
    recordsPerSecond: Math.round(records / seconds),
    cpuSeconds,
    recordsPerCpuSecond: Math.round(records / cpuSeconds),
    note,
  };
}

/** Runs `node bin/changecast.js replay` once; CPU time from the preload's report. */
async function replayCommand(
  root: string,
  config: string,
  input: string,
  out: string,
): Promise<CommandResult> {
  const cpuFile = join(tmpdir(), `changecast-bench-cpu-${process.pid}.json`);
  rmSync(cpuFile, { force: true });
  const fd = openSync(out, "w");
  const started = performance.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        join(root, "bench", "cpu-at-exit.mjs"),
        join(root, "bin", "changecast.js"),
        "replay",
        "--config",
        config,
        "--input",
        input,
      ],
      { cwd: root, stdio: ["ignore", fd, "pipe"], env: { ...process.env, BENCH_CPU_FILE: cpuFile } },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (c) => {
      if (c !== 0) process.stderr.write(stderr);
      resolve(c);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  closeSync(fd);
  if (code !== 0) throw new Error(`replay exited with ${code}`);
  const cpu = JSON.parse(readFileSync(cpuFile, "utf8")) as { user: number; system: number };
  rmSync(cpuFile, { force: true });
  const lines = statSync(out).size > 0 ? readFileSync(out, "utf8").split("\n").length - 1 : 0;
  return result(
    `replay command, ${RECORDS} records`,
    RECORDS,
    seconds,
    (cpu.user + cpu.system) / 1e6,
    `node bin/changecast.js replay, stdout to a file (${lines} lines), start-up included`,
  );
}

/**
 * The naive floor: read the file, JSON.parse each kcat line and the key and value texts it holds, and
 * Avro-encode (avsc) the events the record yields — no exact int64s, no logical types, no CEL, no headers, no
 * output. The events of each record are those of the capture record it repeats, decoded once beforehand.
 */
async function floor(root: string, flavour: string, config: string, input: string): Promise<CommandResult> {
  // the input repeats the capture records in this order (replay-input.ts), ids and offsets shifted
  const captures = captureLines(root, flavour);
  const pipeline = await openReplayPipeline(join(root, config));
  const schemas = new Map<string, EventSchema>(
    pipeline.transforms.declarations.map((d) => [d.schema.fullName, d.schema]),
  );
  const period = captures.length;
  const events: { schema: EventSchema; value: unknown }[][] = [];
  for (const line of captures) {
    const o = pipeline.processor.process(parseKcatLine(line));
    events.push(
      o.kind === "events"
        ? o.records.map((p) => {
            const schema = schemas.get(p.view.headers.ce_type ?? "") as EventSchema;
            return { schema, value: schema.decode(p.record.value!.subarray(5)) };
          })
        : [],
    );
  }
  await pipeline.close();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const text = readFileSync(input, "utf8");
  let n = 0;
  let from = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", from)) {
    const line = JSON.parse(text.slice(from, at)) as { key: unknown; payload: unknown };
    if (typeof line.key === "string") JSON.parse(line.key);
    if (typeof line.payload === "string") JSON.parse(line.payload);
    for (const e of events[n % period] ?? []) e.schema.type.toBuffer(e.value);
    n++;
    from = at + 1;
  }
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (performance.now() - started) / 1000;
  return result(
    `floor, ${n} records`,
    n,
    seconds,
    (cpu.user + cpu.system) / 1e6,
    "in process: read file, JSON.parse line + key + value, avsc encode",
  );
}

/** RecordProcessor.process alone over the same records (parsed beforehand, 10 000 at a time). */
async function processorAlone(root: string, config: string, input: string): Promise<CommandResult> {
  const pipeline = await openReplayPipeline(join(root, config));
  const text = readFileSync(input, "utf8");
  let n = 0;
  let cpuMicros = 0;
  let wallMs = 0;
  let from = 0;
  while (from < text.length) {
    const batch = [];
    for (
      let at = text.indexOf("\n", from);
      at !== -1 && batch.length < 10_000;
      at = text.indexOf("\n", from)
    ) {
      batch.push(parseKcatLine(text.slice(from, at)));
      from = at + 1;
    }
    if (batch.length === 0) break;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    for (const r of batch) pipeline.processor.process(r);
    // the aggregates and releases the records made, as replay takes them
    pipeline.processor.takeHeldOutcomes();
    const cpu = process.cpuUsage(cpuStart);
    wallMs += performance.now() - started;
    cpuMicros += cpu.user + cpu.system;
    n += batch.length;
  }
  await pipeline.close();
  return result(
    `processor alone, ${n} records`,
    n,
    wallMs / 1000,
    cpuMicros / 1e6,
    "RecordProcessor.process: decode, map, encode, headers (one pass, cold start)",
  );
}

export async function benchReplayCommand(
  root: string,
  flavour: "postgres" | "oracle",
  config: string,
): Promise<{ results: CommandResult[]; ratios: string[] }> {
  // named by the captures' content and the generator's code: an input made from older captures or by an older
  // generator is not reused
  const captures = createHash("sha256")
    .update(captureLines(root, flavour).join("\n"))
    .update(readFileSync(join(root, "bench", "replay-input.ts")))
    .digest("hex")
    .slice(0, 12);
  const input = join(tmpdir(), `changecast-bench-${flavour}-${RECORDS}-${captures}.jsonl`);
  if (!existsSync(input)) writeReplayInput(root, flavour, RECORDS, input);
  const out = join(tmpdir(), `changecast-bench-${flavour}-out.jsonl`);
  const command = await replayCommand(root, config, input, out);
  rmSync(out, { force: true });
  const base = await floor(root, flavour, config, input);
  const processor = await processorAlone(root, config, input);
  const label = (r: CommandResult, what: string) => ({ ...r, name: `${what} ${flavour}: ${r.name}` });
  const ratios = [
    `${flavour}: replay command vs floor, CPU time: ${(base.cpuSeconds / command.cpuSeconds).toFixed(2)}× ` +
      `(floor ${base.cpuSeconds.toFixed(2)} cpu-s, replay ${command.cpuSeconds.toFixed(2)} cpu-s; target ≥ 1.5×)`,
    `${flavour}: replay command vs floor, wall time: ${(base.seconds / command.seconds).toFixed(2)}× ` +
      `(floor ${base.seconds.toFixed(2)} s, replay ${command.seconds.toFixed(2)} s)`,
    `${flavour}: processor alone: ${processor.recordsPerCpuSecond} records/cpu-s (target ≥ 100 000)`,
  ];
  return {
    results: [label(command, "whole"), label(base, "naive"), label(processor, "core")],
    ratios,
  };
}
