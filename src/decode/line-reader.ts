// Line-based record input (replay, embedded `run` source files): bytes → one item per record, bounded.
//
// * A record is one line (JSON lines, as `kcat -C -J` prints them); lines end at LF only. A CR is JSON white
//   space: a CRLF line end, or a bare CR between tokens, is read as JSON reads it (never a line break).
// * A UTF-8 byte-order mark at the start of a line (the input's, or a concatenated file's) is skipped.
// * Blank lines (JSON white space only) hold no record: reported as `skipped`, for the reconciliation.
// * A line over `maxRecordBytes` is rejected while it is read: only its first HEAD_BYTES are kept, the rest
//   is counted and dropped, so a 10 GB line costs no more memory than a small one.
// * Bytes that are not UTF-8 are rejected (decoding them would replace characters, changing the value).
// * Pretty-printed JSON (`jq .`, JSON.stringify(v, null, 2)): a line that opens an object or array without
//   closing it starts a multi-line record, joined with the following lines until the value closes. Such a
//   value never closed (end of input, a line opening a new value at column 0, or over maxRecordBytes) is
//   one rejected record naming its first line, never one dead letter per line. A line ending with `}` or `]`
//   is taken as complete without scanning it (the common case costs nothing).
// * Input starting with a UTF-16 byte-order mark is one rejected record for the whole input.
import { isUtf8 } from "node:buffer";
import { DecodeError, RecordTooLargeError, type SourceRecord } from "./change-event.js";

/** The longest line read as a record whatever limits.maxRecordBytes says (V8 strings stop at ~512 Mi chars). */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

/** How much of a rejected input a dead letter keeps (it is cut further to fit limits.maxEventBytes). */
export const HEAD_BYTES = 64 * 1024;

export type InputItem =
  /** `text`: the record's text; lines `first`..`last` (1-based, equal unless multi-line) */
  | { kind: "record"; text: string; first: number; last: number }
  /** input that cannot be a record: `head` = its first bytes as read, `bytes` = its full length */
  | { kind: "rejected"; error: Error; head: Buffer; bytes: number; first: number; last: number }
  /** a line with no record in it */
  | { kind: "skipped"; line: number; reason: "blank" };

export interface LineReaderOptions {
  /** limits.maxRecordBytes: the longest record (line, or multi-line value) accepted */
  maxRecordBytes: number;
}

const LF = 0x0a;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** One physical line: its bytes (null once over the limit), or what is left of it when too long. */
interface RawLine {
  no: number;
  /** whether an LF ended it (the last line of an input may have none) */
  terminated: boolean;
  bytes: Buffer | null;
  head: Buffer;
  length: number;
}

/** Splits chunks at LF without ever holding more than `limit` bytes of one line (synchronous, per chunk). */
class LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private head: Buffer | null = null; // set once the line is over the limit
  private no = 0;
  constructor(private readonly limit: number) {}

  /** The lines `buf` completes, appended to `out`. */
  push(buf: Buffer, out: RawLine[]): void {
    let from = 0;
    for (let at = buf.indexOf(LF, from); at !== -1; at = buf.indexOf(LF, from)) {
      this.take(buf.subarray(from, at));
      out.push(this.end(true));
      from = at + 1;
    }
    if (from < buf.length) this.take(buf.subarray(from));
  }

  /** The input's last line, when it has no LF. */
  finish(out: RawLine[]): void {
    if (this.length > 0 || this.head !== null) out.push(this.end(false));
  }

  private take(piece: Buffer): void {
    this.length += piece.length;
    if (this.head !== null) return;
    if (this.length <= this.limit) {
      this.parts.push(piece);
      return;
    }
    this.parts.push(piece.subarray(0, Math.max(0, HEAD_BYTES - (this.length - piece.length))));
    // a copy: the chunk it points into is large
    this.head = Buffer.from(Buffer.concat(this.parts).subarray(0, HEAD_BYTES));
    this.parts = [];
  }

  private end(terminated: boolean): RawLine {
    const no = ++this.no;
    const { parts, length, head } = this;
    const line: RawLine =
      head === null
        ? {
            no,
            terminated,
            bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts),
            head: EMPTY,
            length,
          }
        : { no, terminated, bytes: null, head, length };
    this.parts = [];
    this.length = 0;
    this.head = null;
    return line;
  }
}
const EMPTY = Buffer.alloc(0);

/** Reads records from line-based input; see the file comment for the rules. */
export async function* readRecords(
  input: AsyncIterable<Buffer | string>,
  options: LineReaderOptions,
): AsyncGenerator<InputItem> {
  for await (const items of readRecordBatches(input, options)) yield* items;
}

/** At most this many items in a batch of readRecordBatches. */
const BATCH_ITEMS = 32;

/**
 * readRecords' items, a few of the same input chunk together (no promise per line): the same items in the same
 * order. An empty input yields nothing.
 */
export async function* readRecordBatches(
  input: AsyncIterable<Buffer | string>,
  options: LineReaderOptions,
): AsyncGenerator<InputItem[]> {
  // never more than a JS string can hold, whatever the configured limit
  const limit = Math.min(options.maxRecordBytes, MAX_LINE_BYTES);
  const splitter = new LineSplitter(limit);
  const records = new RecordAssembler(limit);
  for await (const chunk of input) {
    const lines: RawLine[] = [];
    splitter.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk, lines);
    yield* batches(lines, records, false);
  }
  const lines: RawLine[] = [];
  splitter.finish(lines);
  yield* batches(lines, records, true);
}

/**
 * The items of `lines`, a few at a time: their texts are made when the caller is about to use them (they stay
 * young). `end`: the input's last lines, after which what the assembler still holds is an item too.
 */
function* batches(lines: readonly RawLine[], records: RecordAssembler, end: boolean): Generator<InputItem[]> {
  let items: InputItem[] = [];
  for (const raw of lines) {
    records.line(raw, items);
    if (items.length >= BATCH_ITEMS) {
      yield items;
      items = [];
    }
  }
  if (end) records.finish(items);
  if (items.length > 0) yield items;
}

/** Physical lines → items (synchronous): multi-line values joined, a UTF-16 input one rejected item. */
class RecordAssembler {
  // an open multi-line value: its lines so far, their bytes, its first line, its nesting state; `lines` is
  // null once it is over the limit (then only its head is kept while it is read on to where it closes)
  private open: OpenValue | null = null;
  /** input that starts with a UTF-16 byte-order mark: its first line, and the lines and bytes read since */
  private utf16: { first: RawLine; bytes: number; last: number } | null = null;
  private started = false;
  constructor(private readonly limit: number) {}

  line(raw: RawLine, out: InputItem[]): void {
    const { limit } = this;
    if (!this.started) {
      this.started = true;
      if (isUtf16Bom(raw)) {
        this.utf16 = { first: raw, bytes: lineSize(raw), last: raw.no };
        return;
      }
    }
    if (this.utf16 !== null) {
      this.utf16.bytes += lineSize(raw);
      this.utf16.last = raw.no;
      return;
    }
    const bytes = raw.bytes === null ? null : stripBom(raw.bytes);
    const text = bytes !== null && isUtf8(bytes) ? bytes.toString("utf8") : null;
    const open = this.open;
    if (open !== null) {
      if (text !== null && opensAtColumnZero(text)) {
        // a new value starts here: the open one was never closed
        out.push(unclosed(open, raw.no - 1, limit));
        this.open = null;
      } else {
        continueValue(open, raw, bytes, text, limit);
        if (open.scan.depth <= 0 || open.scan.broken) {
          out.push(closed(open, limit));
          this.open = null;
        }
        return;
      }
    }
    const started = startLine(raw, bytes, text, limit);
    if ("open" in started) this.open = started.open;
    else out.push(started.item);
  }

  /** End of input: a value still open, or the UTF-16 input's one rejected item. */
  finish(out: InputItem[]): void {
    if (this.utf16 !== null) out.push(utf16Rejection(this.utf16));
    else if (this.open !== null) out.push(unclosed(this.open, Number.NaN, this.limit));
    this.open = null;
    this.utf16 = null;
  }
}

const lineSize = (l: RawLine): number => l.length + (l.terminated ? 1 : 0);

/** A UTF-16 input: not one record can be read from it, so one rejected item for the whole input, every byte counted. */
function utf16Rejection(input: { first: RawLine; bytes: number; last: number }): InputItem {
  const { first } = input;
  return {
    kind: "rejected",
    error: new DecodeError(
      "the input is UTF-16 (it starts with a UTF-16 byte-order mark): JSON lines are UTF-8 " +
        "(convert it, e.g. iconv -f UTF-16 -t UTF-8)",
    ),
    head: headOf(first.bytes ?? first.head),
    bytes: input.bytes,
    first: 1,
    last: input.last,
  };
}

/** The next line of an open multi-line value (`bytes` or `text` null: over-long or not UTF-8). */
function continueValue(
  open: OpenValue,
  raw: RawLine,
  bytes: Buffer | null,
  text: string | null,
  limit: number,
): void {
  if (bytes === null || text === null) {
    // over-long or not UTF-8: the whole value is rejected; read on to where it closes
    open.bad ??=
      text === null && bytes !== null
        ? notUtf8(raw.no, bytes)
        : new RecordTooLargeError("over limits.maxRecordBytes");
    if (open.lines !== null) open.head = headOf(Buffer.from(open.lines.join("\n"), "utf8"));
    open.lines = null;
    open.bytes += raw.length + 1;
  } else {
    scanDepth(text, open.scan);
    open.bytes += bytes.length + 1;
    if (open.lines !== null) open.lines.push(text);
    if (open.bytes > limit && open.lines !== null) {
      open.head = headOf(Buffer.from(open.lines.join("\n"), "utf8"));
      open.lines = null;
    }
  }
  open.last = raw.no;
}

/** A line outside any open value: an item of its own, or the first line of a multi-line value. */
function startLine(
  raw: RawLine,
  bytes: Buffer | null,
  text: string | null,
  limit: number,
): { item: InputItem } | { open: OpenValue } {
  if (bytes === null) return { item: tooLong(raw.no, raw.no, raw.head, raw.length, limit) };
  if (text === null) {
    return {
      item: {
        kind: "rejected",
        error: notUtf8(raw.no, bytes),
        head: headOf(bytes),
        bytes: bytes.length,
        first: raw.no,
        last: raw.no,
      },
    };
  }
  if (isBlank(text)) return { item: { kind: "skipped", line: raw.no, reason: "blank" } };
  if (mayContinue(text)) {
    const scan: ScanState = { depth: 0, inString: false, escaped: false, broken: false };
    scanDepth(text, scan);
    if (scan.depth > 0 && !scan.broken) {
      return {
        open: {
          lines: [text],
          head: EMPTY,
          bytes: bytes.length,
          first: raw.no,
          last: raw.no,
          scan,
          bad: null,
        },
      };
    }
  }
  return { item: { kind: "record", text, first: raw.no, last: raw.no } };
}

/** FF FE / FE FF at the start of the input: UTF-16 (or UTF-32 LE), which no JSON line of ours can be. */
function isUtf16Bom(line: RawLine): boolean {
  const b = line.bytes ?? line.head;
  return b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff));
}

interface OpenValue {
  lines: string[] | null;
  head: Buffer;
  bytes: number;
  first: number;
  last: number;
  scan: ScanState;
  /** why the value is rejected whatever follows (a line not UTF-8, over the limit), if it is */
  bad: Error | null;
}

/** A multi-line value that closed on its last line. */
function closed(open: OpenValue, limit: number): InputItem {
  if (open.bad instanceof DecodeError) return rejected(open, open.bad);
  if (open.lines === null) return tooLong(open.first, open.last, open.head, open.bytes, limit);
  return { kind: "record", text: open.lines.join("\n"), first: open.first, last: open.last };
}

function unclosed(open: OpenValue, before: number, limit: number): InputItem {
  if (open.bad instanceof DecodeError) return rejected(open, open.bad);
  if (open.lines === null) return tooLong(open.first, open.last, open.head, open.bytes, limit);
  const where = Number.isNaN(before) ? "at the end of the input" : `before line ${before + 1}`;
  return rejected(
    open,
    new DecodeError(
      `line ${open.first}: the JSON value it opens is not closed ${where} ` +
        `(input is one record per line, or a pretty-printed value whose lines are joined until it closes)`,
    ),
  );
}

function rejected(open: OpenValue, error: Error): InputItem {
  const head = open.lines !== null ? headOf(Buffer.from(open.lines.join("\n"), "utf8")) : open.head;
  return { kind: "rejected", error, head, bytes: open.bytes, first: open.first, last: open.last };
}

function notUtf8(line: number, bytes: Buffer): DecodeError {
  return new DecodeError(
    `line ${line} is not valid UTF-8 text (at byte ${firstInvalidUtf8(bytes) + 1}): decoding it would change the record`,
  );
}

/**
 * The source record of input that is not a record: rejected by the reader, or a line that is neither a kcat -J
 * record nor a Debezium value (`parseError`). Still a record — of `topic`, offset the index of its first
 * line, value the input as read — so that it is counted and dead-lettered with its error.
 */
export function unreadableRecord(
  item: Exclude<InputItem, { kind: "skipped" }>,
  topic: string,
  parseError?: unknown,
): SourceRecord {
  const base = {
    topic,
    partition: 0,
    offset: String(item.first - 1),
    timestamp: null,
    headers: {},
    key: null,
  };
  if (item.kind === "rejected") {
    return { ...base, value: item.head, rejected: { error: item.error, bytes: item.bytes } };
  }
  const value = Buffer.from(item.text, "utf8");
  const where = item.first === item.last ? `line ${item.first}` : `lines ${item.first}-${item.last}`;
  const reason =
    parseError instanceof RangeError && /call stack/i.test(parseError.message)
      ? "JSON nested too deeply to read"
      : parseError instanceof Error
        ? parseError.message
        : String(parseError);
  return { ...base, value, rejected: { error: new DecodeError(`${where}: ${reason}`), bytes: value.length } };
}

function tooLong(first: number, last: number, head: Buffer, bytes: number, limit: number): InputItem {
  const where = first === last ? `line ${first}` : `lines ${first}-${last}`;
  return {
    kind: "rejected",
    error: new RecordTooLargeError(
      limit < MAX_LINE_BYTES
        ? `${where} of ${bytes} bytes exceeds limits.maxRecordBytes (${limit})`
        : `${where} of ${bytes} bytes exceeds the longest record line that can be read (${MAX_LINE_BYTES} bytes)`,
    ),
    head,
    bytes,
    first,
    last,
  };
}

function headOf(bytes: Buffer): Buffer {
  return bytes.length <= HEAD_BYTES ? bytes : Buffer.from(bytes.subarray(0, HEAD_BYTES));
}

function stripBom(bytes: Buffer): Buffer {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2]
    ? bytes.subarray(3)
    : bytes;
}

/** Index of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629), -1 if none. */
function firstInvalidUtf8(b: Buffer): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (need === 0 || i + need >= n) return i;
    // the second byte's range excludes overlong forms, surrogates and code points past U+10FFFF
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const c1 = b[i + 1] as number;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/** JSON white space only (space, tab, CR): a line that holds no value. */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/**
 * Whether a line may open a value it does not close: only then is it scanned. A complete JSON line ends with
 * `}` or `]` (a line that ends so but is not complete is malformed on its own, and read as one record).
 */
function mayContinue(text: string): boolean {
  let i = text.length - 1;
  while (i >= 0 && isWs(text.charCodeAt(i))) i--;
  const c = text.charCodeAt(i);
  return c !== 125 /* } */ && c !== 93; /* ] */
}

/** A line that starts a new top-level value: `{` or `[` in its first column (pretty-printers indent inner lines). */
function opensAtColumnZero(text: string): boolean {
  const c = text.charCodeAt(0);
  return c === 123 /* { */ || c === 91; /* [ */
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

interface ScanState {
  depth: number;
  inString: boolean;
  escaped: boolean;
  /** more closers than openers, or a line ending inside a string: malformed, ends the value here */
  broken: boolean;
}

/** Brackets opened minus closed, outside strings. A JSON string cannot span lines. */
function scanDepth(text: string, state: ScanState): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (state.inString) {
      if (state.escaped) state.escaped = false;
      else if (c === 92 /* \ */) state.escaped = true;
      else if (c === 34 /* " */) state.inString = false;
    } else if (c === 34) state.inString = true;
    else if (c === 123 || c === 91) state.depth++;
    else if (c === 125 || c === 93) {
      if (--state.depth < 0) state.broken = true;
    }
  }
  if (state.inString) state.broken = true;
}
