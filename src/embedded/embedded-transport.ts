// Embedded mode (docs/architecture.md): reads kcat dumps, writes `<outputDir>/<topic>.jsonl`, commits file positions and
// output lengths in one state-store transaction. On start, output written after the last commit is cut off,
// so a run killed at any instant resumes with neither loss nor duplicates.
import { appendFileSync, createReadStream, mkdirSync, readdirSync, statSync, truncateSync } from "node:fs";
import { join, relative } from "node:path";
import { ConfigError } from "../config/yaml-source.js";
import type { SourceRecord } from "../decode/change-event.js";
import { readRecords, unreadableRecord, type InputItem } from "../decode/line-reader.js";
import { parseCaptureLine } from "../decode/kcat.js";
import type { OfflineSchemas } from "../decode/offline-schemas.js";
import type { OffsetStore } from "../state/offsets.js";
import { stringifyJson } from "../encode/json.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { ChangeTransport, ConsumedBatch } from "../publish/transport.js";

/** A record read from a file: `topic` is the Debezium topic; `cursor` identifies the file line for offsets. */
interface FileRecord {
  record: SourceRecord;
  cursor: { file: string; line: number };
  ts: number;
}

/**
 * Input files are read by line position, and re-read from there after a restart: a FIFO or device (`/dev/zero`)
 * would block or never end and could not be resumed, a directory cannot be read. Throws an error naming it.
 */
function inputFileProblem(path: string, baseDir: string): void {
  const name = JSON.stringify(relative(baseDir, path) || path);
  // a config problem (exit 1), reported at the file it is about
  const problem = (message: string) => new ConfigError([{ file: path, line: 1, message }]);
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw problem(`source.files: ${name} cannot be read: ${(err as Error).message}`);
  }
  if (stat.isDirectory()) throw problem(`source.files: ${name} is a directory, not a file`);
  if (!stat.isFile()) {
    throw problem(
      `source.files: ${name} is not a regular file (a device, FIFO or socket); embedded input must be files, ` +
        "read by line position (use changecast replay --input - for a stream)",
    );
  }
}

class FileCursor {
  private readonly items: AsyncIterator<InputItem>;
  head: FileRecord | null = null;
  /** blank lines read past the committed position */
  skipped = 0;
  constructor(
    readonly path: string,
    readonly key: string,
    private readonly skip: number,
    private readonly schemas: OfflineSchemas | null,
    maxRecordBytes: number,
  ) {
    // the bounded reader (line-reader.ts): over-long lines, bytes not UTF-8, blank and multi-line input
    this.items = readRecords(createReadStream(path), { maxRecordBytes })[Symbol.asyncIterator]();
  }

  /** Advances to the next record not yet committed. Cursor lines are 0-based: the record's last line. */
  async advance(): Promise<void> {
    for (;;) {
      const next = await this.items.next();
      if (next.done) {
        this.head = null;
        return;
      }
      const item = next.value;
      if (item.kind === "skipped") {
        if (item.line - 1 >= this.skip) this.skipped++;
        continue;
      }
      const lineNo = item.last - 1;
      if (lineNo < this.skip) {
        // writer schema lines count below the committed line too: records after it were written with them
        if (item.kind === "record" && item.text.includes('"schemaId"')) this.schemaLine(item.text, lineNo);
        continue;
      }
      const head = toFileRecord(item, this.key, lineNo);
      if (head === null) {
        if (item.kind === "record") this.schemaLine(item.text, lineNo);
        continue;
      }
      this.head = head;
      return;
    }
  }

  private schemaLine(line: string, lineNo: number): void {
    let parsed;
    try {
      parsed = parseCaptureLine(line);
    } catch {
      return; // a committed line that is no record: dead-lettered when it was read
    }
    if (parsed.kind === "schema")
      this.schemas?.add(parsed.schemaId, parsed.schema, `${this.path}:${lineNo + 1}`);
  }
}

/** A record of a file; null for a writer schema line (a capture's, not a record). */
function toFileRecord(
  item: Exclude<InputItem, { kind: "skipped" }>,
  fileKey: string,
  lineNo: number,
): FileRecord | null {
  const cursor = { file: fileKey, line: lineNo };
  if (item.kind === "rejected") return { record: unreadableRecord(item, fileKey), cursor, ts: 0 };
  try {
    const parsed = parseCaptureLine(item.text);
    if (parsed.kind === "schema") return null;
    // a line without an offset (hand-written captures): its line number orders it, as an offset would (the table
    // state tells a later change from a redelivery by source position, then offset)
    const record =
      parsed.record.offset === "-1" ? { ...parsed.record, offset: String(lineNo) } : parsed.record;
    return { record, cursor, ts: record.timestamp ?? 0 };
  } catch (err) {
    // Not even a kcat line: still a record of the file, dead-lettered with the reason.
    return { record: unreadableRecord(item, fileKey, err), cursor, ts: 0 };
  }
}

export class EmbeddedTransport implements ChangeTransport {
  private cursors: FileCursor[] = [];
  private readonly lengths = new Map<string, number>();
  private readonly pendingCursors = new Map<SourceRecord, { file: string; line: number }>();

  private constructor(
    private readonly offsets: OffsetStore,
    private readonly outputDir: string,
  ) {}

  static async open(options: {
    files: string[];
    baseDir: string;
    outputDir: string;
    offsets: OffsetStore;
    /** receives the writer schema lines of the files (captures of AvroConverter topics) */
    schemas?: OfflineSchemas | null;
    /** limits.maxRecordBytes: longer lines are rejected while read (default 8 MiB) */
    maxRecordBytes?: number;
  }): Promise<EmbeddedTransport> {
    const transport = new EmbeddedTransport(options.offsets, options.outputDir);
    const committed = await options.offsets.offsets();
    for (const path of options.files) inputFileProblem(path, options.baseDir);
    for (const path of options.files) {
      const key = `file:${relative(options.baseDir, path)}`;
      const skip = Number(committed.get(`${key}/0`) ?? 0n);
      const cursor = new FileCursor(
        path,
        key,
        skip,
        options.schemas ?? null,
        options.maxRecordBytes ?? 8 * 1024 * 1024,
      );
      await cursor.advance();
      transport.cursors.push(cursor);
    }
    await transport.restoreOutput();
    return transport;
  }

  /** Cuts every output file back to its committed length (output of an interrupted batch). */
  private async restoreOutput(): Promise<void> {
    mkdirSync(this.outputDir, { recursive: true });
    const committed = await this.offsets.outputLengths();
    for (const name of readdirSync(this.outputDir)) {
      if (!name.endsWith(".jsonl")) continue;
      const path = join(this.outputDir, name);
      const length = committed.get(name) ?? 0;
      if (statSync(path).size > length) truncateSync(path, length);
      this.lengths.set(name, length);
    }
  }

  async poll(maxRecords: number): Promise<ConsumedBatch | null> {
    const records: SourceRecord[] = [];
    while (records.length < maxRecords) {
      // k-way merge by record timestamp keeps each file's order and interleaves topics as a consumer would
      let best: FileCursor | null = null;
      for (const c of this.cursors) if (c.head && (!best || c.head.ts < best.head!.ts)) best = c;
      if (!best || !best.head) break;
      records.push(best.head.record);
      this.pendingCursors.set(best.head.record, best.head.cursor);
      await best.advance();
    }
    return records.length ? { records } : null;
  }

  async deliver(
    consumed: SourceRecord[],
    outputs: PublishedRecord[],
    beforeCommit?: () => Promise<void>,
  ): Promise<void> {
    const chunks = new Map<string, string[]>();
    for (const { record, view } of outputs) {
      const line = embeddedOutputLine({ record, view });
      const name = `${record.topic}.jsonl`;
      const list = chunks.get(name) ?? [];
      list.push(line);
      chunks.set(name, list);
    }
    for (const [name, lines] of chunks) {
      const text = lines.join("\n") + "\n";
      appendFileSync(join(this.outputDir, name), text);
      this.lengths.set(name, (this.lengths.get(name) ?? 0) + Buffer.byteLength(text));
    }
    await beforeCommit?.();
    const next = new Map<string, number>();
    for (const record of consumed) {
      const cursor = this.pendingCursors.get(record);
      if (!cursor) continue;
      this.pendingCursors.delete(record);
      next.set(cursor.file, Math.max(next.get(cursor.file) ?? 0, cursor.line + 1));
    }
    await this.offsets.commit(
      [...next].map(([file, line]) => ({ topic: file, partition: 0, next: String(line) })),
      new Map([...chunks.keys()].map((name) => [name, this.lengths.get(name) ?? 0])),
    );
  }

  /** Blank lines read past the committed positions (no records; the reconciliation reports them). */
  skippedLines(): number {
    let n = 0;
    for (const c of this.cursors) n += c.skipped;
    return n;
  }

  async close(): Promise<void> {
    this.cursors = [];
  }
}

/** The line of a published record in `<outputDir>/<topic>.jsonl`: the replay view plus the exact wire bytes. */
export function embeddedOutputLine({ record, view }: PublishedRecord): string {
  return stringifyJson({
    ...view,
    wire: {
      key: record.key ? record.key.toString("base64") : null,
      value: record.value ? record.value.toString("base64") : null,
      timestamp: record.timestamp,
    },
  });
}
