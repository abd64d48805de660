// JSON text with exact integers: bigints print as plain JSON numbers, bytes as base64.
import { stringify } from "lossless-json";

type Replacer = (key: string, value: unknown) => unknown;

/**
 * JSON text of `value`: bigint → exact number, Uint8Array/Buffer → base64 string. An optional replacer
 * runs first (same contract as JSON.stringify's).
 */
export function stringifyJson(value: unknown, replacer?: Replacer): string {
  const text = stringify(value, function (this: unknown, key: string, v: unknown) {
    const replaced = replacer ? replacer.call(this, key, v) : v;
    return replaced instanceof Uint8Array
      ? Buffer.from(replaced.buffer, replaced.byteOffset, replaced.byteLength).toString("base64")
      : replaced;
  });
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}
