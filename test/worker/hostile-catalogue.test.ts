// Hostile records and expressions found by an adversarial catalogue (Debezium JsonConverter records with
// boundary values, kcat line quirks, expensive expressions): each is counted, nothing hangs, no value changes.
import { describe, expect, it } from "vitest";
import { compileExpression, type Bindings } from "../../src/map/expression.js";

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
