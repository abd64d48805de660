// stringifyJson (json.ts) without lossless-json's generic walk: the same text, several times faster, for the
// values replay prints per record (views: plain objects of strings, numbers, bigints, booleans, null, arrays,
// bytes). Anything else (Dates, objects with toJSON, class instances, LosslessNumbers …) is handed to
// stringifyJson as a whole, so the output is always stringifyJson's.
import { stringifyJson } from "./json.js";

/**
 * An object's own text of some of its members: `object[JSON_TEXT](key)` is the JSON text of `object[key]` (what
 * stringifyJson would write for it), or undefined to write the member as usual; `object[JSON_TEXT]("")` is the
 * text of the whole object, or undefined. Record views use it for the
 * rendered Avro value, written by a compiled writer (json-writer.ts) without building the rendered object.
 */
export const JSON_TEXT: unique symbol = Symbol("JSON text of a member");

/** Thrown (preallocated) out of the fast walk when a value needs stringifyJson's generic rules. */
const UNUSUAL = new Error("unusual JSON value");

/** Exactly stringifyJson(value) (no replacer). */
export function stringifyJsonFast(value: unknown): string {
  try {
    const text = valueText(value);
    if (text !== undefined) return text;
  } catch (err) {
    if (err !== UNUSUAL) throw err;
  }
  return stringifyJson(value);
}

/**
 * stringifyJson's text of one value inside a value, or undefined (as lossless-json) for undefined, functions and
 * symbols; throws for values only stringifyJson itself can write (then write the whole value with it).
 */
export function jsonText(v: unknown): string | undefined {
  return valueText(v);
}

function valueText(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      // -0 prints as -0.0 (json.ts); NaN/Infinity as JSON.stringify prints them (null)
      return Object.is(v, -0) ? "-0.0" : JSON.stringify(v);
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "object":
      if (v === null) return "null";
      if (v instanceof Uint8Array) {
        return JSON.stringify(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"));
      }
      if (Array.isArray(v)) return arrayText(v);
      return objectText(v);
  }
  throw UNUSUAL;
}

function arrayText(a: unknown[]): string {
  if (a.length === 0) return "[]";
  let s = "[";
  for (let i = 0; i < a.length; i++) {
    if (i > 0) s += ",";
    s += valueText(a[i]) ?? "null";
  }
  return s + "]";
}

function objectText(o: object): string {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) throw UNUSUAL;
  const record = o as Record<string, unknown>;
  // a toJSON member (own, or inherited from Object.prototype) is lossless-json's to call
  if (typeof record.toJSON === "function") throw UNUSUAL;
  const own = (o as { [JSON_TEXT]?: unknown })[JSON_TEXT];
  const textOf = typeof own === "function" ? (own as (key: string) => string | undefined) : undefined;
  // "": the text of the whole object, when it has one
  const whole = textOf?.call(o, "");
  if (whole !== undefined) return whole;
  let s = "{";
  let first = true;
  for (const key of Object.keys(record)) {
    const text = textOf?.call(o, key) ?? valueText(record[key]);
    if (text === undefined) continue;
    if (first) first = false;
    else s += ",";
    s += JSON.stringify(key) + ":" + text;
  }
  return s + "}";
}
