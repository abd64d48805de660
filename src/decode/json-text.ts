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
  return losslessParse(text, integersAsBigint);
}

/** JSON text with bigints written as plain integer literals (the inverse of parseJson). */
export function stringifyJson(value: unknown): string {
  return stringify(value) ?? "null";
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
