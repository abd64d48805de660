import { describe, expect, it } from "vitest";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import type { ChangeEvent } from "../../src/decode/change-event.js";
import { compileExpression } from "../../src/map/expression.js";
import { bindingsFor } from "../../src/map/mapper.js";
import { loadFixtures } from "../decode/fixtures.js";

function change(valueFile: string): ChangeEvent {
  const fixture = loadFixtures("postgres").find((f) => f.valueFile === valueFile);
  if (!fixture) throw new Error(`no fixture ${valueFile}`);
  const decoded = decodeDebeziumJson(fixture.record);
  if (decoded.kind !== "change") throw new Error(`${valueFile} is a ${decoded.kind}`);
  return decoded.event;
}

const evaluate = (text: string, c: ChangeEvent) => compileExpression(text).evaluate(bindingsFor(c));

describe("CEL variables of a change", () => {
  it("include the envelope's ts_ms, ts_us and ts_ns, exactly", () => {
    const c = change("05-create.value.json");
    expect(evaluate("ts_ms", c)).toBe(1710497111405n);
    expect(evaluate("ts_us", c)).toBe(1710497111405917n);
    expect(evaluate("ts_ns", c)).toBe(1710497111405917215n);
    expect(evaluate("ts_us - source.ts_ms * 1000", c)).toBe(303917n);
  });

  it("ts_* are null when the envelope has none", () => {
    const c = { ...change("05-create.value.json"), envelopeTimes: undefined };
    expect(evaluate("ts_ns == null && ts_us == null && ts_ms == null", c)).toBe(true);
  });

  it("changed compares only the columns present in both images", () => {
    const c = change("09-update-replica-identity-full.value.json");
    const after = c.after ?? {};
    // a before-image that carries the key columns only (REPLICA IDENTITY USING INDEX, Oracle without
    // supplemental logging of all columns): the other columns are unknown, not changed
    const keyOnly = { ...c, before: { id: after.id ?? null } };
    expect(evaluate("changed", keyOnly)).toEqual([]);
    const emailChanged = { ...c, before: { id: after.id ?? null, email: "earlier@example.com" } };
    expect(evaluate("changed", emailChanged)).toEqual(["email"]);
  });
});
