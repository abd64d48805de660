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
import { unsafeIntegerAsBigint } from "./json-text.js";

const HEAD =
  /^\{"topic":"([^"\\]*)","partition":(-?(?:0|[1-9]\d*)),"offset":(-?(?:0|[1-9]\d*)),"tstype":"([^"\\]*)","ts":(-?(?:0|[1-9]\d*)),"broker":(-?(?:0|[1-9]\d*)),"headers":\[\],"key":/;
const PAYLOAD = ',"payload":';

/** parseJson(line) for kcat's usual layout (see above), else undefined. */
export function parseKcatLayout(line: string): Record<string, unknown> | undefined {
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
  const payload = stringOrNull(line.slice(at + PAYLOAD.length, end));
  if (payload === undefined) return undefined;
  return {
    topic: head[1],
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
