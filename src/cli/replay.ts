// `changecast replay`: maps Debezium records offline and prints the resulting records (docs/records.md).
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { readRecordBatches, unreadableRecord, type InputItem } from "../decode/line-reader.js";
import { parseCaptureLine, type CaptureLine } from "../decode/kcat.js";
import type { SourceRecord } from "../decode/change-event.js";
import type { Outcome } from "../worker/record-processor.js";
import { stringifyJsonFast } from "../encode/json-fast.js";
import { RunStats } from "../worker/run-stats.js";
import { DEAD_LETTERS_EXIT_CODE, processIO, type CommandIO } from "./io.js";
import { LineOutput } from "./line-output.js";
import { openPipeline, type OpenPipeline } from "./pipeline.js";
import { Progress, type ProgressOptions } from "./progress.js";
import { createLogger } from "./log.js";
import { heldDeadLetter, heldRecords, type HeldOutcome } from "../worker/held-changes.js";

/**
 * The pipeline as replay opens it, offline: a private in-memory state store, table state in memory, the embedded
 * registry, whatever the config says (also what the benchmarks measure replay's processor with).
 */
export function openReplayPipeline(config: string): Promise<OpenPipeline> {
  return openPipeline(config, {
    stateUrl: "sqlite::memory:",
    tableState: "memory",
    embeddedRegistry: true,
    offlineSchemas: true,
  });
}

export async function replayCommand(
  opts: { config: string; input: string; topic?: string; failOnDeadLetters?: boolean },
  io: CommandIO,
  stdin: Readable = process.stdin,
  options: { progress?: ProgressOptions } = {},
): Promise<number> {
  const pipeline = await openReplayPipeline(opts.config);
  const stats = new RunStats();
  // the process's stdout in big chunks; any other CommandIO (tests) line by line
  const output = new LineOutput(io, io === processIO ? process.stdout : null);
  try {
    const log = createLogger({ settings: pipeline.config.log, base: { pipeline: pipeline.config.pipeline } });
    // big reads: a kcat line of a JsonConverter record is several KB
    const file = opts.input === "-" ? null : createReadStream(opts.input, { highWaterMark: 1 << 20 });
    const input = file ?? stdin;
    const total = file ? inputSize(opts.input) : null;
    const progress = new Progress((line) => output.err(line), options.progress);
    const counts = () => ({
      records: stats.recordsIn,
      deadLetters: stats.deadLetters,
      ...(file && total !== null ? { bytes: { done: file.bytesRead, total } } : {}),
    });
    // bounded reader: lines over maxRecordBytes, bytes not UTF-8, blank and multi-line input (line-reader.ts)
    // a few items of an input chunk at a time: no promise per line or per record
    const batches = readRecordBatches(input, { maxRecordBytes: pipeline.config.limits.maxRecordBytes });
    for await (const items of batches) {
      await replayItems(pipeline, items, opts, stats, output, () => progress.update(counts));
      await output.ready();
    }
    // a finite input: what is still held (parked changes, incomplete transactions) times out at its end
    pipeline.processor.finishHeld();
    printHeld(pipeline.processor.takeHeldOutcomes(), stats, output);
    const held = stats.heldLine();
    if (held) output.err(held);
    // replay's output is its records and this reconciliation; the log entry is for LOG_LEVEL=debug
    log.debug(
      {
        input: opts.input,
        recordsIn: stats.recordsIn,
        eventsOut: stats.eventsOut,
        deadLetters: stats.deadLetters,
      },
      "changecast replay: finished",
    );
    output.err(stats.reconciliation());
    return opts.failOnDeadLetters && stats.anyDeadLetters ? DEAD_LETTERS_EXIT_CODE : 0;
  } finally {
    output.flush();
    await pipeline.close();
  }
}

/**
 * A few items of one input chunk, in order: a skipped line is counted, a schema line is kept, the records between
 * schema lines are processed together — prepared once (the source's prepare(), the stateful features' hooks),
 * each processed and printed with the held outcomes it made, their state writes done once. Outcomes are printed
 * in the order one record at a time gives them: what prepare() released, after the first record's outcome.
 */
async function replayItems(
  pipeline: OpenPipeline,
  items: readonly InputItem[],
  opts: { input: string; topic?: string },
  stats: RunStats,
  output: LineOutput,
  progress: () => void,
): Promise<void> {
  const { processor } = pipeline;
  let records: { record: SourceRecord; line: number }[] = [];
  const run = async (): Promise<void> => {
    if (records.length === 0) return;
    const batch = records;
    records = [];
    const sources = batch.map((r) => r.record);
    // no promise per record unless the source fetches schemas or a stateful feature keeps state
    let early: HeldOutcome[] = [];
    if (processor.needsPrepare) {
      await processor.prepare(sources);
      early = processor.takeHeldOutcomes();
    }
    for (const { record, line } of batch) {
      const outcome = processor.process(record);
      stats.count(outcome);
      progress();
      printOutcome(outcome, line, output);
      const held = processor.takeHeldOutcomes();
      printHeld(early.length > 0 ? [...early, ...held] : held, stats, output);
      early = [];
    }
    // replay keeps its table state in memory: this clears the records' pending state writes
    if (processor.needsPrepare) await processor.beforeCommit(sources);
  };
  for (const item of items) {
    if (item.kind === "skipped") {
      stats.skipLine();
      continue;
    }
    const parsed: CaptureLine =
      item.kind === "record"
        ? toRecord(item, opts.topic)
        : { kind: "record", record: unreadableRecord(item, opts.topic ?? "replay-input") };
    if (parsed.kind === "schema") {
      // a capture's writer schema line: not a record; the Avro records after it are decoded with it
      await run();
      pipeline.offlineSchemas?.add(
        parsed.schemaId,
        parsed.schema,
        `${opts.input === "-" ? "stdin" : opts.input}:${item.first}`,
      );
      continue;
    }
    records.push({ record: parsed.record, line: item.first });
  }
  await run();
}

/** The records of an outcome as JSON lines (docs/records.md); a dead letter also says why on stderr. */
function printOutcome(outcome: Outcome, lineNo: number, output: LineOutput): void {
  if (outcome.kind === "events") for (const r of outcome.records) output.line(stringifyJsonFast(r.view));
  else if (outcome.kind === "dead-letter") {
    output.err(`line ${lineNo}: dead letter: ${outcome.stage}: ${outcome.error.message}`);
    output.line(stringifyJsonFast(outcome.record.view));
  }
}
/** Released or timed-out held changes and aggregate events (docs/state.md), counted and printed. */
function printHeld(held: HeldOutcome[], stats: RunStats, output: LineOutput): void {
  for (const h of held) {
    stats.countHeld(h);
    const dead = heldDeadLetter(h);
    if (dead) output.err(`dead letter (held change): ${dead.stage}: ${dead.error.message}`);
    for (const r of heldRecords(h)) output.line(stringifyJsonFast(r.view));
  }
}

/** The size of the input file, when it is a regular file (not a FIFO or a device). */
function inputSize(file: string): number | null {
  try {
    const stat = statSync(file);
    return stat.isFile() ? stat.size : null;
  } catch {
    return null;
  }
}

function toRecord(item: Extract<InputItem, { kind: "record" }>, topic: string | undefined): CaptureLine {
  try {
    return parseCaptureLine(item.text, topic);
  } catch (err) {
    // not a kcat line nor a Debezium value: still a record, so that it is dead-lettered and counted
    return { kind: "record", record: unreadableRecord(item, topic ?? "replay-input", err) };
  }
}
