// `changecast replay`: maps Debezium records offline and prints the resulting records (docs/records.md).
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { readRecords, unreadableRecord, type InputItem } from "../decode/line-reader.js";
import { parseCaptureLine, type CaptureLine } from "../decode/kcat.js";
import { stringifyJson } from "../encode/json.js";
import { RunStats } from "../worker/run-stats.js";
import { DEAD_LETTERS_EXIT_CODE, type CommandIO } from "./io.js";
import { openPipeline, type OpenPipeline } from "./pipeline.js";
import type { Outcome } from "../worker/record-processor.js";
import { Progress, type ProgressOptions } from "./progress.js";
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
  try {
    const file = opts.input === "-" ? null : createReadStream(opts.input);
    const input = file ?? stdin;
    const total = file ? inputSize(opts.input) : null;
    const progress = new Progress((line) => io.err(line), options.progress);
    const counts = () => ({
      records: stats.recordsIn,
      deadLetters: stats.deadLetters,
      ...(file && total !== null ? { bytes: { done: file.bytesRead, total } } : {}),
    });
    // bounded reader: lines over maxRecordBytes, bytes not UTF-8, blank and multi-line input (line-reader.ts)
    const items = readRecords(input, { maxRecordBytes: pipeline.config.limits.maxRecordBytes });
    for await (const item of items) {
      const outcome = await replayItem(pipeline, item, opts, stats);
      if (outcome === null || item.kind === "skipped") continue;
      progress.update(counts);
      printOutcome(outcome, item.first, io);
      printHeld(pipeline.processor.takeHeldOutcomes(), stats, io);
    }
    // a finite input: what is still held (parked changes, incomplete transactions) times out at its end
    pipeline.processor.finishHeld();
    printHeld(pipeline.processor.takeHeldOutcomes(), stats, io);
    const held = stats.heldLine();
    if (held) io.err(held);
    io.err(stats.reconciliation());
    return opts.failOnDeadLetters && stats.anyDeadLetters ? DEAD_LETTERS_EXIT_CODE : 0;
  } finally {
    await pipeline.close();
  }
}

/** One input item: a skipped line is counted, a schema line is kept (null for both), a record is processed. */
async function replayItem(
  pipeline: OpenPipeline,
  item: InputItem,
  opts: { input: string; topic?: string },
  stats: RunStats,
): Promise<Outcome | null> {
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
  await pipeline.processor.prepare([record]);
  const outcome = pipeline.processor.process(record);
  // replay keeps its table state in memory: this clears the record's pending state writes
  await pipeline.processor.beforeCommit([record]);
  stats.count(outcome);
  return outcome;
}

/** The records of an outcome as JSON lines (docs/records.md); a dead letter also says why on stderr. */
function printOutcome(outcome: Outcome, lineNo: number, io: CommandIO): void {
  if (outcome.kind === "events") for (const r of outcome.records) io.out(stringifyJson(r.view));
  else if (outcome.kind === "dead-letter") {
    io.err(`line ${lineNo}: dead letter: ${outcome.stage}: ${outcome.error.message}`);
    io.out(stringifyJson(outcome.record.view));
  }
}
/** Released or timed-out held changes and aggregate events (docs/state.md), counted and printed. */
function printHeld(held: HeldOutcome[], stats: RunStats, io: CommandIO): void {
  for (const h of held) {
    stats.countHeld(h);
    const dead = heldDeadLetter(h);
    if (dead) io.err(`dead letter (held change): ${dead.stage}: ${dead.error.message}`);
    for (const r of heldRecords(h)) io.out(stringifyJson(r.view));
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
