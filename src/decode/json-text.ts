// JSON text → JS values without losing int64 precision (Debezium's ts_ns, BIGINT columns, Kafka offsets).
import { DecodeError } from "./change-event.js";

/** Any integer literal this long may exceed 2^53; shorter ones are always safe. */
const LONG_DIGITS = /\d{16}/;

/**
 * Parses JSON text; integer literals that are not safe integers become `bigint`, every other number stays a
 * `number`. Throws DecodeError for text that is not JSON.
 *
 * Fast path: native JSON.parse when the text has no 16+ digit run (so no integer can pass 2^53). Otherwise
 * the exact hand-written parser below (measured ~2.5x JSON.parse, faster than lossless-json or a
 * regex-rewrite + JSON.parse + bigint walk).
 */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return nativeParse(text);
  return parseExact(text, false);
}

/**
 * Parses JSON text with every integer literal (no fraction, no exponent) as `bigint` and every other number as
 * `number`: for schemaless Debezium JSON, where nothing but the literal tells an int64 from a double.
 */
export function parseJsonIntegersAsBigint(text: string): unknown {
  return parseExact(text, true);
}

/** JSON.stringify that writes bigints as plain integer literals (the inverse of parseJson). */
export function stringifyJson(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return "[" + value.map(stringifyJson).join(",") + "]";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) parts.push(JSON.stringify(k) + ":" + stringifyJson(v));
  }
  return "{" + parts.join(",") + "}";
}

function nativeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DecodeError(`not JSON: ${(err as Error).message}`);
  }
}

// ---- exact recursive-descent parser: integers as bigint (all, or only the unsafe ones) ----

function parseExact(text: string, allIntsBig: boolean): unknown {
  const p = new ExactParser(text, allIntsBig);
  const value = p.value();
  if (p.skipWs() !== -1) p.fail("unexpected text after the JSON value");
  return value;
}

class ExactParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly allIntsBig: boolean,
  ) {}

  fail(what: string): never {
    throw new DecodeError(`not JSON: ${what} at position ${this.i}`);
  }

  /** Skips whitespace; returns the next char code, or -1 at the end. */
  skipWs(): number {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++this.i);
    return Number.isNaN(c) ? -1 : c;
  }

  value(): unknown {
    const c = this.skipWs();
    if (c === 34) return this.string();
    if (c === 123) return this.object();
    if (c === 91) return this.array();
    if (c === 116) return this.literal("true", true);
    if (c === 102) return this.literal("false", false);
    if (c === 110) return this.literal("null", null);
    if (c === 45 || (c >= 48 && c <= 57)) return this.number();
    return this.fail(
      c === -1 ? "unexpected end of input" : `unexpected character ${JSON.stringify(this.s[this.i])}`,
    );
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.fail("invalid literal");
    this.i += word.length;
    return v;
  }

  private object(): Record<string, unknown> {
    this.i++;
    const obj: Record<string, unknown> = {};
    if (this.skipWs() === 125) {
      this.i++;
      return obj;
    }
    for (;;) {
      if (this.skipWs() !== 34) this.fail("expected a property name");
      const key = this.string();
      if (this.skipWs() !== 58) this.fail("expected ':'");
      this.i++;
      obj[key] = this.value();
      const c = this.skipWs();
      this.i++;
      if (c === 44) continue;
      if (c === 125) return obj;
      this.i--;
      this.fail("expected ',' or '}'");
    }
  }

  private array(): unknown[] {
    this.i++;
    const arr: unknown[] = [];
    if (this.skipWs() === 93) {
      this.i++;
      return arr;
    }
    for (;;) {
      arr.push(this.value());
      const c = this.skipWs();
      this.i++;
      if (c === 44) continue;
      if (c === 93) return arr;
      this.i--;
      this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const s = this.s;
    const start = ++this.i;
    let j = start;
    let c = s.charCodeAt(j);
    // common case: no escapes and no control characters → a plain slice
    while (c !== 34 && c !== 92 && c >= 32) c = s.charCodeAt(++j);
    if (c === 34) {
      this.i = j + 1;
      return s.slice(start, j);
    }
    while (j < s.length) {
      c = s.charCodeAt(j);
      if (c === 92) j += 2;
      else if (c === 34) break;
      else j++;
    }
    if (j >= s.length) this.fail("unterminated string");
    this.i = j + 1;
    try {
      return JSON.parse(s.slice(start - 1, j + 1)) as string;
    } catch {
      this.i = start;
      return this.fail("invalid string");
    }
  }

  private number(): number | bigint {
    const s = this.s;
    const start = this.i;
    let c = s.charCodeAt(this.i);
    if (c === 45) c = s.charCodeAt(++this.i);
    if (c === 48) c = s.charCodeAt(++this.i);
    else if (c >= 49 && c <= 57) c = this.digits();
    else this.fail("invalid number");
    let integer = true;
    if (c === 46) {
      integer = false;
      c = s.charCodeAt(++this.i);
      if (!(c >= 48 && c <= 57)) this.fail("invalid number");
      c = this.digits();
    }
    if (c === 101 || c === 69) {
      integer = false;
      c = s.charCodeAt(++this.i);
      if (c === 43 || c === 45) c = s.charCodeAt(++this.i);
      if (!(c >= 48 && c <= 57)) this.fail("invalid number");
      this.digits();
    }
    const token = s.slice(start, this.i);
    if (!integer) return Number(token);
    if (this.allIntsBig) return BigInt(token);
    const n = Number(token);
    return Number.isSafeInteger(n) ? n : BigInt(token);
  }

  private digits(): number {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c >= 48 && c <= 57) c = s.charCodeAt(++this.i);
    return c;
  }
}
