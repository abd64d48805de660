// JSON text → JS values without losing int64 precision (Debezium's ts_ns, BIGINT columns, Kafka offsets).
import { isInteger, parse, stringify } from "lossless-json";
import { DecodeError } from "./change-event.js";

/** Any integer literal this long may exceed 2^53; shorter ones are always safe. */
const LONG_DIGITS = /\d{16}/;

/**
 * Parses JSON text; integer literals that are not safe integers become `bigint`, every other number stays a
 * `number`. Throws DecodeError for text that is not JSON.
 *
 * Fast path: native JSON.parse when the text has no 16+ digit run (then no integer can pass 2^53);
 * otherwise lossless-json with a number parser that keeps unsafe integers exact.
 */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return nativeParse(text);
  return losslessParse(text, unsafeIntegersAsBigint);
}

/**
 * Parses JSON text with every integer literal (no fraction, no exponent) as `bigint` and every other number as
 * `number`: for schemaless Debezium JSON, where nothing but the literal tells an int64 from a double.
 */
export function parseJsonIntegersAsBigint(text: string): unknown {
  if (NOT_SHORT_INTEGER.test(text)) return losslessParse(text, integersAsBigint);
  // every number literal is an integer of at most 15 digits: JSON.parse reads each exactly
  return safeIntegersAsBigint(nativeParse(text));
}

/**
 * A 16+ digit run (LONG_DIGITS) or a number literal with a fraction or an exponent, in one scan. Outside strings
 * a JSON value starts at the beginning of the text or after `:` `,` `[` (and white space), so every such literal
 * is found; a match inside a string (as in "12:30.5") only sends the text to the lossless parse, never wrong.
 */
const NOT_SHORT_INTEGER = /\d{16}|(?:^|[:,[])\s*-?\d+[.eE]/;

/** JSON.parse's output with every number (all read from integer literals) as a bigint, in place. */
function safeIntegersAsBigint(v: unknown): unknown {
  if (typeof v === "number") return BigInt(v);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = safeIntegersAsBigint(v[i]);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === "number") {
      // defineProperty: a member named "__proto__" is an own property of JSON.parse's output, not the prototype
      if (k === "__proto__")
        Object.defineProperty(o, k, { value: BigInt(x), enumerable: true, writable: true });
      else o[k] = BigInt(x);
    } else if (x !== null && typeof x === "object") safeIntegersAsBigint(x);
  }
  return v;
}

/** JSON text with bigints written as plain integer literals (the inverse of parseJson). */
export function stringifyJson(value: unknown): string {
  return stringify(value) ?? "null";
}

// ---- native parse with exact integers recovered from the text ----------------------------------------------
//
// JSON.parse rounds integer literals beyond 2^53 (every Debezium 3.x payload has a 19-digit ts_ns), and the
// lossless parser is many times slower. `parseJsonNative` + `exactInteger` let a schema-driven decoder parse
// natively and get the exact value of the few integers that need it: the decoder passes each number that is
// not a safe integer to `exactInteger`, which looks for the literals of the text that JSON.parse reads as that
// number. The search is complete (every literal that can be the one parsed is among the candidates, exactly as
// written), so when all candidates are one and the same text, that text is the literal that was parsed.
// Extra candidates (digits inside strings, the same member name elsewhere) can only make the answer ambiguous,
// never wrong. Ambiguous or not found: `withExactIntegers` returns NEEDS_LOSSLESS and the caller decodes the
// lossless parse instead, which is what parseJson would have given.

/** What withExactIntegers returns when an integer was not recoverable: decode parseJson's result instead. */
export const NEEDS_LOSSLESS: unique symbol = Symbol("needs lossless parse");
/** Thrown (preallocated, no stack capture) by exactInteger out of the decoder to withExactIntegers. */
const NOT_RECOVERABLE = new Error("integer literal not recoverable from the text");

/**
 * Every JSON number literal that can have a value of 2^53 or more, matched whole: 16+ integer digits, or an
 * exponent. A literal without exponent and with at most 15 integer digits stays below 10^15. Each literal
 * outside strings starts after a delimiter (`:` `,` `[` or white space) that no alternative matches, so it
 * is matched from its first character; digits inside strings only add extra candidates, which can only make
 * a lookup ambiguous (then: lossless), never wrong.
 */
const NUMBER_LITERALS = /-?\d{16,}(?:\.\d+)?(?:[eE][+-]?\d+)?|-?\d+(?:\.\d+)?[eE][+-]?\d+/g;
const AMBIGUOUS = "";

/** A member name that JSON text can only spell differently with a \u escape. */
const PLAIN_NAME = /^[A-Za-z0-9_]+$/;
/** A number literal, from where it starts. */
const LITERAL_AT = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

let exactText: string | null = null;
let exactLiterals: Map<number, string> | null = null;
/** whether exactText has a \u escape (then a member name may be spelled with one): undefined = not checked */
let exactHasUnicodeEscape: boolean | undefined;
/** the number literals of the members of each name in exactText (source.ts_ns, then ts_ns: one scan) */
let exactMembers: Map<string, string[]> | null = null;

/**
 * Native JSON.parse (throws the engine's SyntaxError, not a DecodeError: callers fall back to parseJson for
 * the exact error). Pair with `withExactIntegers(text, …)` around the decoding of the result.
 */
export function parseJsonNative(text: string): unknown {
  return JSON.parse(text) as unknown;
}

/**
 * Runs `decode` with `exactInteger` answering from `text` (the text the value was natively parsed from).
 * Returns NEEDS_LOSSLESS when an integer could not be recovered exactly.
 */
export function withExactIntegers<T>(text: string, decode: () => T): T | typeof NEEDS_LOSSLESS {
  const outerText = exactText;
  const outerLiterals = exactLiterals;
  const outerEscape = exactHasUnicodeEscape;
  const outerMembers = exactMembers;
  exactText = text;
  exactLiterals = null;
  exactHasUnicodeEscape = undefined;
  exactMembers = null;
  try {
    return decode();
  } catch (err) {
    if (err === NOT_RECOVERABLE) return NEEDS_LOSSLESS;
    throw err;
  } finally {
    exactText = outerText;
    exactLiterals = outerLiterals;
    exactHasUnicodeEscape = outerEscape;
    exactMembers = outerMembers;
  }
}

/**
 * The value parseJson would have given for the literal that JSON.parse read as `value`, a number that is not
 * a safe integer: the exact bigint of an integer literal, else the number itself. `member`: the name of the
 * object member the value is, when the decoder knows it (a struct field), which narrows the search to the
 * values of members of that name. Outside withExactIntegers (the value came from parseJson) returns `value`.
 */
export function exactInteger(value: number, member?: string): number | bigint {
  if (exactText === null || (Number.isFinite(value) && !Number.isInteger(value))) return value;
  let literal: string | undefined;
  if (member !== undefined && PLAIN_NAME.test(member)) {
    exactHasUnicodeEscape ??= exactText.includes("\\u");
    if (!exactHasUnicodeEscape) {
      exactMembers ??= new Map();
      let literals = exactMembers.get(member);
      if (literals === undefined) {
        literals = memberLiterals(exactText, member);
        exactMembers.set(member, literals);
      }
      literal = readAs(literals, value);
    }
  }
  if (literal === undefined) {
    exactLiterals ??= literalsOf(exactText);
    literal = exactLiterals.get(value);
  }
  if (literal === undefined || literal === AMBIGUOUS) throw NOT_RECOVERABLE;
  return isInteger(literal) ? BigInt(literal) : value;
}

/**
 * The number literals that follow `"name":` anywhere in `text`: among them, the literal of every member of
 * that name whose value is a number. Complete because `name` (letters, digits, _) can only be written as
 * itself in a text without \u escapes, and an object member is its name, optional white space, a colon,
 * optional white space and the value.
 */
function memberLiterals(text: string, name: string): string[] {
  const quoted = '"' + name + '"';
  const found: string[] = [];
  for (let at = text.indexOf(quoted); at !== -1; at = text.indexOf(quoted, at + quoted.length)) {
    let i = skipWhitespace(text, at + quoted.length);
    if (text.charCodeAt(i) !== 58 /* : */) continue;
    i = skipWhitespace(text, i + 1);
    LITERAL_AT.lastIndex = i;
    const m = LITERAL_AT.exec(text);
    if (m !== null) found.push(m[0]);
  }
  return found;
}

/** The one text among `literals` that reads as `value`: AMBIGUOUS when they differ, undefined when none. */
function readAs(literals: readonly string[], value: number): string | undefined {
  let found: string | undefined;
  for (const literal of literals) {
    if (Number(literal) !== value) continue;
    if (found !== undefined && found !== literal) return AMBIGUOUS;
    found = literal;
  }
  return found;
}

function skipWhitespace(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i);
  return i;
}

/** The literals of `text` that are not safe integers, by value; AMBIGUOUS for a value two texts share. */
function literalsOf(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of text.matchAll(NUMBER_LITERALS)) {
    const literal = m[0];
    const n = Number(literal);
    if (Number.isSafeInteger(n) || (Number.isFinite(n) && !Number.isInteger(n))) continue;
    const known = out.get(n);
    out.set(n, known === undefined || known === literal ? literal : AMBIGUOUS);
  }
  return out;
}

/** parseJson's value of a number literal: a bigint for an integer beyond 2^53, else the number. */
export function unsafeIntegerAsBigint(literal: string): number | bigint {
  return unsafeIntegersAsBigint(literal);
}

function unsafeIntegersAsBigint(literal: string): number | bigint {
  const n = Number(literal);
  return Number.isSafeInteger(n) || !isInteger(literal) ? n : BigInt(literal);
}

function integersAsBigint(literal: string): number | bigint {
  return isInteger(literal) ? BigInt(literal) : Number(literal);
}

function nativeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DecodeError(`not JSON: ${(err as Error).message}`);
  }
}

function losslessParse(text: string, parseNumber: (literal: string) => number | bigint): unknown {
  try {
    return parse(text, null, parseNumber) as unknown;
  } catch (err) {
    throw new DecodeError(`not JSON: ${(err as Error).message}`);
  }
}
