// parseKcatLayout (the kcat line read without a full parse) against parseJson on capture lines and mutations
// of them: where it answers, the very object parseJson returns; lines it does not take go to parseJson.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson } from "../../src/decode/json-text.js";
import { hasLoneSurrogate } from "../../src/decode/connect-schema.js";
import { parseKcatLayout, RecordBytes } from "../../src/decode/kcat-fast.js";

const root = join(import.meta.dirname, "..", "..");
const lines = [
  "postgres/dbserver1.inventory.customers.jsonl",
  "oracle/server1.INVENTORY.ORDERS.jsonl",
].flatMap((f) =>
  readFileSync(join(root, "captures", f), "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(0, 40),
);

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MUTATIONS: ((line: string, r: () => number) => string)[] = [
  (l) => l,
  (l) => l.replace(/"offset":\d+/, '"offset":123456789012345678901'),
  (l) => l.replace(/"offset":\d+/, '"offset":9007199254740993'),
  (l) => l.replace(/"offset":\d+/, '"offset":-0'),
  (l) => l.replace(/"offset":\d+/, '"offset":007'),
  (l) => l.replace(/"offset":\d+/, '"offset":1.5'),
  (l) => l.replace(/"ts":\d+/, '"ts":1e3'),
  (l) => l.replace(/"partition":\d+/, '"partition":-1'),
  (l) => l.replace('"topic":"', '"topic":"a\\"b'),
  (l) => l.replace('"topic":"', '"topic":"\\u0041'),
  (l) => l.replace('"headers":[]', '"headers":["a","b"]'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":null'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":{"a":1}'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":"x","topic":"dup"'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":"\\ud800"'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":"a\tb"'),
  (l) => l.replace(/"key":"(?:[^"\\]|\\.)*"/, '"key":"x,\\"payload\\":\\"y"'),
  (l) => l.replace(/,"payload":"/, ',"payload":"\\"payload\\":1,'),
  (l) => l.replace(/}$/, ',"payload":null}'),
  (l) => l.replace(/\\"payload\\":\{/, '\\"payload\\":{\\"z\\":\\"\\ud800\\",'),
  (l) => l.replace(/\\"payload\\":\{/, '\\"payload\\":{\\"z\\":\\"é😀\\u00e9\\\\\\"\\",'),
  (l) => l.replace(/\\"schema\\":\{/, '\\"schema\\":{\\"doc\\":\\"\\u00e9\\",'),
  (l) => l.replace(/\\"schema\\":\{/, '\\"schema\\":{\\"doc\\":\\"\\/\\",'),
  (l) => l.replace(/}$/, ',"extra":1}'),
  (l) => l.replace(/}$/, "} \r"),
  (l) => l.replace(/}$/, "}x"),
  (l) => l.replace(/}$/, ""),
  (l) => " " + l,
  (l) => l.replace('{"topic"', '{ "topic"'),
  (l, r) => {
    const i = Math.floor(r() * l.length);
    return l.slice(0, i) + l.slice(i + 1);
  },
  (l, r) => {
    const i = Math.floor(r() * l.length);
    return l.slice(0, i) + '"' + l.slice(i);
  },
  (l, r) => {
    const i = Math.floor(r() * l.length);
    return l.slice(0, i) + "\\" + l.slice(i);
  },
];

describe("parseKcatLayout", () => {
  it("is parseJson's result for every line it takes, and takes the usual kcat lines", () => {
    const r = random(7);
    let taken = 0;
    let checked = 0;
    for (const line of lines) {
      expect(parseKcatLayout(line)).toBeDefined();
      for (let i = 0; i < 60; i++) {
        const m = MUTATIONS[i % MUTATIONS.length]!;
        const mutated = m(line, r);
        const fast = parseKcatLayout(mutated);
        let full: unknown;
        let failed = false;
        try {
          full = parseJson(mutated);
        } catch {
          failed = true;
        }
        checked++;
        if (fast === undefined) continue;
        taken++;
        expect(failed, mutated.slice(0, 200)).toBe(false);
        expect(fast).toStrictEqual(full);
      }
    }
    expect(checked).toBeGreaterThan(4000);
    expect(taken).toBeGreaterThan(1000);
  });

  it("gives a payload's UTF-8 bytes as Buffer.from(payload) would, from a known schema prefix", () => {
    const r = random(9);
    let asBytes = 0;
    for (let round = 0; round < 3; round++) {
      for (const line of lines) {
        for (let i = 0; i < 20; i++) {
          const mutated = MUTATIONS[(i * 7 + round) % MUTATIONS.length]!(line, r);
          const fast = parseKcatLayout(mutated, { payloadBytes: true });
          const plain = parseKcatLayout(mutated);
          if (fast === undefined) {
            expect(plain).toBeUndefined();
            continue;
          }
          const { payload, ...rest } = fast;
          const { payload: text, ...plainRest } = plain!;
          expect(rest).toStrictEqual(plainRest);
          if (payload instanceof RecordBytes) {
            asBytes++;
            expect(typeof text).toBe("string");
            expect(hasLoneSurrogate(text as string)).toBe(false);
            expect(payload.bytes.equals(Buffer.from(text as string, "utf8"))).toBe(true);
          } else expect(payload).toStrictEqual(text);
        }
      }
    }
    expect(asBytes).toBeGreaterThan(500);
  });

  it("keeps an offset beyond 2^53 exact", () => {
    const line = lines[0]!.replace(/"offset":\d+/, '"offset":123456789012345678901');
    expect(parseKcatLayout(line)?.offset).toBe(123456789012345678901n);
  });
});
