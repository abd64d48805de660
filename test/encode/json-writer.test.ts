// The compiled JSON writer of an event schema against rendering then stringifying: the same text for coerced
// values and for random (also ill-shaped) values of every Avro type and logical type.
import { describe, expect, it } from "vitest";
import { EventSchema } from "../../src/encode/event-schema.js";
import { stringifyJson } from "../../src/encode/json.js";

function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const schema = EventSchema.parse({
  type: "record",
  name: "All",
  namespace: "io.test",
  fields: [
    { name: "l", type: "long" },
    { name: "i", type: "int" },
    { name: "d", type: "double" },
    { name: "f", type: "float" },
    { name: "b", type: "boolean" },
    { name: "s", type: "string" },
    { name: "n", type: "null" },
    { name: "e", type: { type: "enum", name: "E", symbols: ["A", "B"] } },
    { name: "by", type: "bytes" },
    { name: "fx", type: { type: "fixed", name: "F", size: 2 } },
    { name: "dec", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
    { name: "ts", type: { type: "long", logicalType: "timestamp-micros" } },
    { name: "tm", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "dt", type: { type: "int", logicalType: "date" } },
    { name: "u", type: { type: "string", logicalType: "uuid" } },
    { name: "os", type: ["null", "string"], default: null },
    { name: "ol", type: ["null", "long", "string"], default: null },
    { name: "arr", type: { type: "array", items: "long" } },
    { name: "m", type: { type: "map", values: ["null", "double"] } },
    {
      name: "r",
      type: [
        "null",
        {
          type: "record",
          name: "R",
          fields: [
            { name: "x", type: "string" },
            { name: "next", type: ["null", "R"] },
          ],
        },
      ],
      default: null,
    },
  ],
});

const POOL: unknown[] = [
  null,
  undefined,
  0,
  -0,
  1,
  -1.5,
  NaN,
  Infinity,
  2 ** 31,
  5n,
  -(2n ** 63n),
  true,
  false,
  "",
  'a"é😀',
  "12.50",
  "2024-03-15",
  "2024-03-15T10:15:30.123456Z",
  "10:15:30",
  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  [],
  [1n, 2],
  Buffer.from([1, 2]),
  new Uint8Array([3]),
  { string: "x" },
  { long: 3n },
  { null: null },
  { "io.test.R": { x: "y", next: null } },
  { x: "z" },
  { a: { double: 1.5 } },
  new Date(0),
];

const VALID: Record<string, unknown> = schema.coerce({
  l: 1n,
  i: 2,
  d: -0,
  f: 1.5,
  b: true,
  s: "x",
  n: null,
  e: "A",
  by: Buffer.from("hi"),
  fx: Buffer.from([1, 2]),
  dec: "12.50",
  ts: "2024-03-15T10:15:30.123456Z",
  tm: 1710497311110n,
  dt: "2024-03-15",
  u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  os: "o",
  ol: 7n,
  arr: [1n],
  m: { a: 2.5 },
  r: { x: "y", next: null },
});

function render(value: Record<string, unknown>): string | Error {
  try {
    return stringifyJson(schema.render(value as never));
  } catch (err) {
    return err as Error;
  }
}

function written(value: Record<string, unknown>): string | Error {
  try {
    return schema.renderJson(value as never);
  } catch (err) {
    return err as Error;
  }
}

describe("EventSchema.renderJson", () => {
  it("writes what rendering and stringifying writes, for random values", () => {
    const r = random(5);
    let texts = 0;
    for (let i = 0; i < 20_000; i++) {
      const value: Record<string, unknown> = {};
      for (const f of schema.fields) {
        const p = r();
        if (p < 0.05) continue;
        value[f.name] = p < 0.85 && f.name in VALID ? VALID[f.name] : POOL[Math.floor(r() * POOL.length)];
      }
      const expected = render(value);
      const got = written(value);
      if (expected instanceof Error) expect(got).toBeInstanceOf(Error);
      else {
        texts++;
        expect(got).toBe(expected);
      }
    }
    expect(texts).toBeGreaterThan(1000);
  });

  it("writes coerced values as rendered", () => {
    const coerced = schema.coerce({
      l: 1n,
      i: 2,
      d: -0,
      f: 1.5,
      b: true,
      s: "x",
      n: null,
      e: "A",
      by: Buffer.from("hi"),
      fx: Buffer.from([1, 2]),
      dec: "12.50",
      ts: "2024-03-15T10:15:30.123456Z",
      tm: 1710497311110n,
      dt: "2024-03-15",
      u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      os: "o",
      ol: 7n,
      arr: [1n],
      m: { a: 2.5 },
      r: { x: "y", next: null },
    });
    expect(schema.renderJson(coerced)).toBe(stringifyJson(schema.render(coerced)));
  });
});
