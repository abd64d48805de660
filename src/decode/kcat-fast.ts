// The common `kcat -C -J` line read without a full parse: the parsed object parseJson would return for it, or
// undefined for any other line (which then takes the full parse). A kcat line holds the whole record as two
// escaped strings; every Debezium 3.x payload has a 16+ digit ts_ns, which sends such a line to the lossless
// parser (json-text.ts) although the only numbers that could need it are the line's own coordinates.
//
// The line accepted is exactly `{"topic":"T","partition":P,"offset":O,"tstype":"S","ts":N,"broker":B,
// "headers":[],"key":K,"payload":V}` (kcat's member order, no white space; a line may end in white space), T
// and S without escapes, P O N B JSON integer literals, K and V each a JSON string or null. Such a line is valid
// JSON with these nine members and no duplicate: K is a string (or null), and a string cannot hold the text
// `,"payload":` (a quote after a comma is never escaped), so the first `,"payload":` after K's start is the one
// after K — and K, V are accepted only when each is one complete JSON value (JSON.parse of its text alone).
import { hasLoneSurrogate } from "./connect-schema.js";
import { unsafeIntegerAsBigint } from "./json-text.js";

const HEAD =
  /^\{"topic":"([^"\\]*)","partition":(-?(?:0|[1-9]\d*)),"offset":(-?(?:0|[1-9]\d*)),"tstype":"([^"\\]*)","ts":(-?(?:0|[1-9]\d*)),"broker":(-?(?:0|[1-9]\d*)),"headers":\[\],"key":/;
const PAYLOAD = ',"payload":';

/**
 * A record value's UTF-8 bytes, made without decoding the escaped JSON string they were written as (see
 * parseKcatLayout's `payloadBytes`).
 */
export class RecordBytes {
  constructor(readonly bytes: Buffer) {}
}

/**
 * parseJson(line) for kcat's usual layout (see above), else undefined. With `payloadBytes`, the payload member
 * may instead be the RecordBytes of that string: Buffer.from(payload, "utf8"), for a payload that has no lone
 * surrogate (PayloadPrefixes).
 */
export function parseKcatLayout(
  line: string,
  options: { payloadBytes?: boolean } = {},
): Record<string, unknown> | undefined {
  const head = HEAD.exec(line);
  if (head === null) return undefined;
  const keyStart = head[0].length;
  const at = line.indexOf(PAYLOAD, keyStart);
  if (at === -1) return undefined;
  let end = line.length - 1;
  for (let c = line.charCodeAt(end); c === 32 || c === 10 || c === 13 || c === 9; c = line.charCodeAt(--end));
  if (line.charCodeAt(end) !== 125 /* } */) return undefined;
  const key = stringOrNull(line.slice(keyStart, at));
  if (key === undefined) return undefined;
  const payloadText = line.slice(at + PAYLOAD.length, end);
  const topic = head[1] as string;
  const payload = options.payloadBytes
    ? (prefixes.bytes(topic, payloadText) ?? stringOrNull(payloadText))
    : stringOrNull(payloadText);
  if (payload === undefined) return undefined;
  if (options.payloadBytes && typeof payload === "string") prefixes.learn(topic, payloadText, payload);
  return {
    topic,
    partition: unsafeIntegerAsBigint(head[2] as string),
    offset: unsafeIntegerAsBigint(head[3] as string),
    tstype: head[4],
    ts: unsafeIntegerAsBigint(head[5] as string),
    broker: unsafeIntegerAsBigint(head[6] as string),
    headers: [],
    key,
    payload,
  };
}

/** The JSON string or null that `text` is, alone; undefined for anything else. */
function stringOrNull(text: string): string | null | undefined {
  if (text === "null") return null;
  if (text.charCodeAt(0) !== 34 /* " */ || text.charCodeAt(text.length - 1) !== 34) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The escaped start of each topic's last record value, up to its `,"payload":` (the JsonConverter schema, the same
 * text in every record of a table), with the UTF-8 bytes it stands for. A value whose escaped text starts with a
 * known prefix is decoded from the rest only: the bytes of the prefix and of the decoded rest, concatenated, are
 * the bytes of the whole decoded string (a JSON string literal decodes piece by piece at any point between two
 * escapes, and the prefix ends in a colon, no part of an escape).
 */
class PayloadPrefixes {
  private readonly byTopic = new Map<string, { escaped: string; bytes: Buffer }>();

  /** The RecordBytes of the JSON string literal `text` (quotes included), or undefined: decode it in full. */
  bytes(topic: string, text: string): RecordBytes | undefined {
    const known = this.byTopic.get(topic);
    if (known === undefined) return undefined;
    const length = known.escaped.length;
    // one memcmp-like string comparison of the (few KB) schema part, which is never decoded again
    if (text.length <= length + 1 || text.slice(1, 1 + length) !== known.escaped) return undefined;
    let rest: unknown;
    try {
      rest = JSON.parse('"' + text.slice(1 + length));
    } catch {
      return undefined;
    }
    // a lone surrogate has no UTF-8 form: the full string, for the caller to reject as before
    if (typeof rest !== "string" || hasLoneSurrogate(rest)) return undefined;
    const restBytes = Buffer.byteLength(rest, "utf8");
    const out = Buffer.allocUnsafe(known.bytes.length + restBytes);
    known.bytes.copy(out, 0);
    out.write(rest, known.bytes.length, "utf8");
    return new RecordBytes(out);
  }

  /** Remembers the prefix of a value decoded in full (`value` is JSON.parse(text)), when it has one. */
  learn(topic: string, text: string, value: string): void {
    if (!value.startsWith('{"schema":')) return;
    const split = value.lastIndexOf(PAYLOAD);
    if (split === -1) return;
    const prefix = value.slice(0, split + PAYLOAD.length);
    if (hasLoneSurrogate(prefix)) return;
    // the prefix as JSON.stringify escapes it: used only when the record wrote it the same way
    const escaped = JSON.stringify(prefix).slice(1, -1);
    if (text.slice(1, 1 + escaped.length) !== escaped) return;
    if (this.byTopic.size >= 1024) this.byTopic.clear();
    this.byTopic.set(topic, { escaped, bytes: Buffer.from(prefix, "utf8") });
  }
}

const prefixes = new PayloadPrefixes();
