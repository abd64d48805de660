// JSON text with exact integers: bigints print as plain JSON numbers, bytes as base64, -0 as -0.0.
import { LosslessNumber, stringify } from "lossless-json";

const NEGATIVE_ZERO = new LosslessNumber("-0.0");

type Replacer = (key: string, value: unknown) => unknown;

/**
 * JSON text of `value`: bigint → exact number, Uint8Array/Buffer → base64 string. An optional replacer
 * runs first (same contract as JSON.stringify's).
 */
export function stringifyJson(value: unknown, replacer?: Replacer): string {
  const text = stringify(value, function (this: unknown, key: string, v: unknown) {
    const replaced = replacer ? replacer.call(this, key, v) : v;
    // a double -0 (a float8 column can hold it) would print as 0: a changed value
    if (Object.is(replaced, -0)) return NEGATIVE_ZERO;
    return replaced instanceof Uint8Array
      ? Buffer.from(replaced.buffer, replaced.byteOffset, replaced.byteLength).toString("base64")
      : replaced;
  });
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}
