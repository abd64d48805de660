// Embedded mode: the sink reads the pipeline's output files `<outputDir>/<topic>.jsonl` (one partition, offset =
// line number) up to the length the pipeline has committed, so a record of a batch the pipeline has not committed
// (and would cut off after a crash) is never applied.
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Knex } from "knex";
import { OffsetStore } from "../state/offsets.js";
import type { SinkRecord } from "./project.js";

interface TopicCursor {
  topic: string;
  path: string;
  /** bytes of the file consumed (whole lines) */
  byte: number;
  /** the next line (offset) to hand out */
  line: bigint;
  /** lines skipped until `line` reaches the start offset */
  start: bigint;
  pending: SinkRecord[];
  ts: number[];
}

const READ_BYTES = 4 * 1024 * 1024;

export class EmbeddedSinkSource {
  private cursors = new Map<string, TopicCursor>();

  constructor(
    private readonly state: Knex,
    private readonly pipeline: string,
    private readonly outputDir: string,
  ) {}

  /** Starts reading `topic` at line `from` (the next offset the sink has not committed). */
  subscribe(topic: string, from: bigint): void {
    this.cursors.set(topic, {
      topic,
      path: join(this.outputDir, `${topic}.jsonl`),
      byte: 0,
      line: 0n,
      start: from,
      pending: [],
      ts: [],
    });
  }

  topics(): string[] {
    return [...this.cursors.keys()];
  }

  /**
   * Up to `max` records, merged across topics by their timestamp (the source commit time) like the pipeline's
   * own reader; empty when every topic is read to its committed end.
   */
  async poll(max: number): Promise<SinkRecord[]> {
    const offsets = await OffsetStore.open(this.state, this.pipeline);
    for (const c of this.cursors.values())
      if (c.pending.length < max) await this.fill(c, await offsets.outputLength(`${c.topic}.jsonl`));
    const out: SinkRecord[] = [];
    while (out.length < max) {
      let best: TopicCursor | null = null;
      for (const c of this.cursors.values())
        if (c.pending.length && (!best || (c.ts[0] ?? 0) < (best.ts[0] ?? 0))) best = c;
      if (!best) break;
      out.push(best.pending.shift()!);
      best.ts.shift();
    }
    return out;
  }

  private async fill(c: TopicCursor, committed: number): Promise<void> {
    if (!existsSync(c.path) || committed <= c.byte) return;
    const length = Math.min(committed - c.byte, READ_BYTES);
    const buffer = Buffer.alloc(length);
    const fd = openSync(c.path, "r");
    let read = 0;
    try {
      while (read < length) {
        const n = readSync(fd, buffer, read, length - read, c.byte + read);
        if (n === 0) break;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
    // whole lines only: the committed length always ends at a line end, a chunk may not
    let end = buffer.lastIndexOf(0x0a, read - 1);
    if (end < 0) {
      if (read < committed - c.byte) throw new Error(`${c.path}: a line longer than ${READ_BYTES} bytes`);
      return;
    }
    end += 1;
    const text = buffer.subarray(0, end).toString("utf8");
    c.byte += end;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const offset = c.line++;
      if (offset < c.start) continue;
      c.pending.push(parseLine(c.topic, offset, line));
      c.ts.push(timestampOf(line));
    }
  }
}

interface OutputLine {
  key: string | null;
  headers?: Record<string, string>;
  wire?: { key: string | null; value: string | null; timestamp?: number };
}

function parseLine(topic: string, offset: bigint, line: string): SinkRecord {
  let parsed: OutputLine;
  try {
    parsed = JSON.parse(line) as OutputLine;
  } catch {
    // not JSON: a record the sink dead-letters (its value is the line)
    return { topic, partition: 0, offset, key: null, headers: {}, value: Buffer.from(line) };
  }
  return {
    topic,
    partition: 0,
    offset,
    key: parsed.key ?? null,
    headers: parsed.headers ?? {},
    value: parsed.wire?.value ? Buffer.from(parsed.wire.value, "base64") : null,
  };
}

function timestampOf(line: string): number {
  const m = /"timestamp":(\d+)/.exec(line.slice(line.lastIndexOf('"wire"')));
  return m ? Number(m[1]) : 0;
}
