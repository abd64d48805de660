// `changecast replay`: maps Debezium records offline and prints the resulting records (docs/records.md).
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { readRecords, unreadableRecord, type InputItem } from "../decode/line-reader.js";
import { parseCaptureLine, type CaptureLine } from "../decode/kcat.js";
import { stringifyJsonFast } from "../encode/json-fast.js";
import { RunStats } from "../worker/run-stats.js";
import { DEAD_LETTERS_EXIT_CODE, processIO, type CommandIO } from "./io.js";
import { LineOutput } from "./line-output.js";
import { openPipeline, type OpenPipeline } from "./pipeline.js";
import type { Outcome } from "../worker/record-processor.js";
import { Progress, type ProgressOptions } from "./progress.js";
import { createLogger } from "./log.js";
import { heldDeadLetter, heldRecords, type HeldOutcome } from "../worker/held-changes.js";

export async function replayCommand(
  opts: { config: string; input: string; topic?: string; failOnDeadLetters?: boolean },
  io: CommandIO,
  stdin: Readable = process.stdin,
  options: { progress?: ProgressOptions } = {},
): Promise<number> {
  // offline: a private in-memory state store and the embedded registry, whatever the config says
  const pipeline = await openPipeline(opts.config, {
    stateUrl: "sqlite::memory:",
    tableState: "memory",
    embeddedRegistry: true,
    offlineSchemas: true,
  });
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
    const items = readRecords(input, { maxRecordBytes: pipeline.config.limits.maxRecordBytes });
    for await (const item of items) {
      const pending = replayItem(pipeline, item, opts, stats);
      const outcome = pending instanceof Promise ? await pending : pending;
      if (outcome === null || item.kind === "skipped") continue;
      progress.update(counts);
      printOutcome(outcome, item.first, output);
      printHeld(pipeline.processor.takeHeldOutcomes(), stats, output);
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
 * One input item: a skipped line is counted, a schema line is kept (null for both), a record is processed (after
 * the source's prepare() when it has one: then the outcome comes as a promise).
 */
function replayItem(
  pipeline: OpenPipeline,
  item: InputItem,
  opts: { input: string; topic?: string },
  stats: RunStats,
): Outcome | null | Promise<Outcome | null> {
  if (item.kind === "skipped") {
    stats.skipLine();
    return null;
  }
  const lineNo = item.first;
  const parsed: CaptureLine =
    item.kind === "record"
      ? toRecord(item, opts.topic)
      : { kind: "record", record: unreadableRecord(item, opts.topic ?? "replay-input") };
  if (parsed.kind === "schema") {
    // a capture's writer schema line: not a record; the Avro records after it are decoded with it
    pipeline.offlineSchemas?.add(
      parsed.schemaId,
      parsed.schema,
      `${opts.input === "-" ? "stdin" : opts.input}:${lineNo}`,
    );
    return null;
  }
  const { record } = parsed;
  const processed = (): Outcome => {
    const outcome = pipeline.processor.process(record);
    stats.count(outcome);
    return outcome;
  };
  // no promise per record unless the source fetches schemas or a stateful feature keeps state
  if (!pipeline.processor.needsPrepare) return processed();
  return (async () => {
    await pipeline.processor.prepare([record]);
    const outcome = processed();
    // replay keeps its table state in memory: this clears the record's pending state writes
    await pipeline.processor.beforeCommit([record]);
    return outcome;
  })();
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
