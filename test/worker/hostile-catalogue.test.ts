// Hostile records and expressions found by an adversarial catalogue (Debezium JsonConverter records with
// boundary values, kcat line quirks, expensive expressions): each is counted, nothing hangs, no value changes.
import { describe, expect, it } from "vitest";
import { compileExpression, type Bindings } from "../../src/map/expression.js";
import { EventSchema } from "../../src/encode/event-schema.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { sourceRecord } from "../decode/fixtures.js";
import { stringifyJson } from "../../src/encode/json.js";

const vars = (after: Record<string, unknown>): Bindings => ({
  op: "c",
  before: null,
  after,
  key: null,
  source: { ts_ms: 1n, table: "t" },
  changed: [],
  tx: null,
  ts_ms: null,
  ts_us: null,
  ts_ns: null,
});

describe("regular expressions (matches) under the evaluation limits", () => {
  it("a pattern taken from a large column is stopped, not compiled for minutes", () => {
    const e = compileExpression("after.s.matches(after.s)");
    const t0 = performance.now();
    expect(() => e.evaluate(vars({ s: "a".repeat(300_000) }))).toThrow(
      /evaluation stopped: over the cost limit/,
    );
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("a large pattern program over a large column is stopped (the regex engine's work is program × text)", () => {
    const e = compileExpression('after.s.matches("^(.*b){200}c$")');
    const t0 = performance.now();
    expect(() => e.evaluate(vars({ s: "ab".repeat(500_000) + "c" }))).toThrow(/evaluation stopped/);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("ordinary patterns still match, on short and on long columns; a bad pattern is an error", () => {
    const email = compileExpression('after.s.matches("^[a-z0-9._%+-]+@[a-z0-9.-]+\\\\.[a-z]{2,}$")');
    expect(email.evaluate(vars({ s: "jane.doe@example.com" }))).toBe(true);
    expect(email.evaluate(vars({ s: "jane.doe@" }))).toBe(false);
    expect(
      compileExpression('after.s.matches("b$")').evaluate(vars({ s: "a".repeat(1_000_000) + "b" })),
    ).toBe(true);
    expect(() => compileExpression("after.s.matches(after.p)").evaluate(vars({ s: "a", p: "(" }))).toThrow(
      /missing closing \)/,
    );
  });
});

describe("years beyond 9999 and before 1: what the decoder writes, the encoder reads", () => {
  // Debezium Date / MicroTimestamp / Timestamp values of such years decode to java.time's text ("+10000-01-01",
  // "-0001-…"); the Avro date and timestamp types hold them, so they must map, not be dead letters
  const columns = [
    { type: "int32", optional: true, field: "d", name: "io.debezium.time.Date" },
    { type: "int64", optional: true, field: "us", name: "io.debezium.time.MicroTimestamp" },
    { type: "int64", optional: true, field: "ms", name: "io.debezium.time.Timestamp" },
  ];
  const envelope = (after: string) =>
    decodeDebeziumJson(
      sourceRecord(
        "db.inventory.t",
        null,
        `{"schema":{"type":"struct","optional":false,"fields":[` +
          `{"type":"struct","optional":true,"field":"after","fields":${JSON.stringify(columns)}},` +
          `{"type":"struct","optional":false,"field":"source","fields":[{"type":"string","optional":false,"field":"connector"},` +
          `{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},` +
          `{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"}]},` +
          `{"type":"string","optional":false,"field":"op"}]},"payload":{"after":${after},` +
          `"source":{"connector":"postgresql","name":"db","ts_ms":1,"schema":"inventory","table":"t"},"op":"c"}}`,
      ),
    );
  const schema = EventSchema.parse({
    type: "record",
    name: "Y",
    fields: [
      { name: "d", type: { type: "int", logicalType: "date" } },
      { name: "us", type: { type: "long", logicalType: "timestamp-micros" } },
      { name: "ms", type: { type: "long", logicalType: "timestamp-millis" } },
    ],
  });

  it.each([
    ["year 10000", 2932897, 253402300800000000n, 253402300800000n],
    ["year -1", -719893, -62198755200000000n, -62198755200000n],
    ["the largest values of the Avro types", 2147483647, 9223372036854775807n, 9223372036854775807n],
  ])("%s maps to the same instant", (_name, days, micros, millis) => {
    const d = envelope(`{"d":${days},"us":${micros},"ms":${millis}}`);
    if (d.kind !== "change") throw new Error(d.kind);
    const row = d.event.after as Record<string, unknown>;
    const bytes = schema.encode(schema.coerce(row));
    const back = schema.type.fromBuffer(bytes) as Record<string, unknown>;
    expect(schema.type.toBuffer(back)).toEqual(bytes);
    // the underlying Avro numbers are the source's numbers: no value changed on the way
    const raw = EventSchema.parse({
      type: "record",
      name: "Y",
      fields: [
        { name: "d", type: "int" },
        { name: "us", type: "long" },
        { name: "ms", type: "long" },
      ],
    });
    expect(raw.type.fromBuffer(bytes)).toEqual({ d: days, us: micros, ms: millis });
  });
});

describe("printed values", () => {
  it("a double -0.0 (Postgres float8 keeps its sign) prints as -0.0, not 0", () => {
    expect(stringifyJson({ f: -0, g: 0, h: [-0] })).toBe('{"f":-0.0,"g":0,"h":[-0.0]}');
    expect(Object.is((JSON.parse(stringifyJson({ f: -0 })) as { f: number }).f, -0)).toBe(true);
  });
});

describe("unions: a value goes to the branch of its own kind before any conversion", () => {
  const schema = EventSchema.parse({
    type: "record",
    name: "U",
    fields: [
      { name: "sl", type: ["null", "string", "long"], default: null },
      { name: "ls", type: ["null", "long", "string"], default: null },
      { name: "ds", type: ["null", "double", "string"], default: null },
      { name: "sb", type: ["null", "string", "boolean"], default: null },
    ],
  });

  it("a number is not turned into text, nor text into a number, when the union has its own branch", () => {
    expect(schema.coerce({ sl: 30001n, ls: "007", ds: "1.50", sb: true })).toEqual({
      sl: { long: 30001n },
      ls: { string: "007" },
      ds: { string: "1.50" },
      sb: { boolean: true },
    });
  });

  it("a conversion still happens when no branch has the value's kind", () => {
    const only = EventSchema.parse({
      type: "record",
      name: "V",
      fields: [{ name: "l", type: ["null", "long"], default: null }],
    });
    expect(only.coerce({ l: "42" })).toEqual({ l: { long: 42n } });
  });
});
