// stringifyJsonFast against stringifyJson: the same text for random values of every kind replay prints and of
// the kinds it hands back to stringifyJson.
import { describe, expect, it } from "vitest";
import { stringifyJson } from "../../src/encode/json.js";
import { stringifyJsonFast } from "../../src/encode/json-fast.js";

function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS: unknown[] = [
  0,
  -0,
  1.5,
  -1e-7,
  1e300,
  NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  123n,
  -(2n ** 63n),
  true,
  false,
  null,
  undefined,
  "",
  'a"b\\c\n\u2028\u0000',
  "\ud800",
  "é€😀",
  Symbol("s"),
  () => 1,
  new Date(0),
  Buffer.from([1, 2, 255]),
  new Uint8Array([0, 255]),
  new Map([["a", 1]]),
  Object.assign(Object.create(null) as object, { a: 1 }),
  { toJSON: () => "j" },
  new String("s"),
  new Number(2),
];

function value(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.5) return SCALARS[Math.floor(r() * SCALARS.length)];
  if (pick < 0.75) return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) {
    const k = ["a", "b", "__proto__", "é", 'x"y', "toJSON", "1"][Math.floor(r() * 7)]!;
    Object.defineProperty(o, k, {
      value: value(r, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return o;
}

describe("stringifyJsonFast", () => {
  it("writes what stringifyJson writes", () => {
    const r = random(11);
    for (let i = 0; i < 20_000; i++) {
      const v = value(r, 0);
      let expected: string | Error;
      try {
        expected = stringifyJson(v);
      } catch (err) {
        expected = err as Error;
      }
      if (expected instanceof Error) expect(() => stringifyJsonFast(v)).toThrow(expected.message);
      else expect(stringifyJsonFast(v)).toBe(expected);
    }
  });

  it("reads a getter once, as a record view's rendered value", () => {
    let reads = 0;
    const view = {
      topic: "t",
      get value() {
        reads++;
        return { n: 1n };
      },
    };
    expect(stringifyJsonFast(view)).toBe('{"topic":"t","value":{"n":1}}');
    expect(reads).toBe(1);
  });
});
