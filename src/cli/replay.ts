// `changecast replay`: maps Debezium records offline and prints the resulting records (SPEC §6).
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { SourceRecord } from "../decode/change-event.js";
import { parseCaptureLine, type CaptureLine } from "../decode/kcat.js";
import { stringifyJson } from "../encode/json.js";
import { RunStats } from "../worker/run-stats.js";
import type { CommandIO } from "./io.js";
import { openPipeline } from "./pipeline.js";

export async function replayCommand(
  opts: { config: string; input: string; topic?: string },
  io: CommandIO,
  stdin: Readable = process.stdin,
): Promise<number> {
  // offline: a private in-memory state store and the embedded registry, whatever the config says
  const pipeline = await openPipeline(opts.config, {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
    offlineSchemas: true,
  });
  const stats = new RunStats();
  try {
    const input = opts.input === "-" ? stdin : createReadStream(opts.input);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === "") continue;
      const parsed = toRecord(line, lineNo, opts.topic);
      if (parsed.kind === "schema") {
        // a capture's writer schema line: not a record; the Avro records after it are decoded with it
        pipeline.offlineSchemas?.add(
          parsed.schemaId,
          parsed.schema,
          `${opts.input === "-" ? "stdin" : opts.input}:${lineNo}`,
        );
        continue;
      }
      const { record } = parsed;
      await pipeline.processor.prepare([record]);
      const outcome = pipeline.processor.process(record);
      stats.count(outcome);
      if (outcome.kind === "events") for (const r of outcome.records) io.out(stringifyJson(r.view));
      else if (outcome.kind === "dead-letter") {
        io.err(`line ${lineNo}: dead letter: ${outcome.stage}: ${outcome.error.message}`);
        io.out(stringifyJson(outcome.record.view));
      }
    }
    io.err(stats.reconciliation());
    return 0;
  } finally {
    await pipeline.close();
  }
}

function toRecord(line: string, lineNo: number, topic: string | undefined): CaptureLine {
  try {
    return parseCaptureLine(line, topic);
  } catch {
    // not a kcat line nor a Debezium value: still a record, so that it is dead-lettered and counted
    const record: SourceRecord = {
      topic: topic ?? "replay-input",
      partition: 0,
      offset: String(lineNo - 1),
      timestamp: null,
      headers: {},
      key: null,
      value: Buffer.from(line, "utf8"),
    };
    return { kind: "record", record };
  }
}
