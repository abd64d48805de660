import { describe, expect, it } from "vitest";
import { compileExpression, ExpressionError, type Bindings } from "../../src/map/expression.js";

const vars = (over: Partial<Bindings> = {}): Bindings => ({
  op: "u",
  before: { id: 1004n, email: "old@example.com", first_name: "Anne" },
  after: {
    id: 1004n,
    email: "new@example.com",
    first_name: "Anne",
    last_name: "Kretchmar",
    tags: ["a", "b"],
  },
  key: { id: 1004n },
  source: { ts_ms: 1710497171000n, table: "customers" },
  changed: ["email"],
  tx: null,
  ...over,
});

describe("CEL expressions", () => {
  it("evaluates SPEC §4 examples with ints kept exact", () => {
    expect(compileExpression('after.first_name + " " + after.last_name').evaluate(vars())).toBe(
      "Anne Kretchmar",
    );
    expect(
      compileExpression('op == "u" && before != null && before.email != after.email').evaluate(vars()),
    ).toBe(true);
    expect(compileExpression("after.id").evaluate(vars())).toBe(1004n);
    expect(compileExpression("9223372036854775807").evaluate(vars())).toBe(9223372036854775807n);
    expect(compileExpression('"email" in changed').evaluate(vars())).toBe(true);
  });

  it("has CEL's strings extension", () => {
    expect(compileExpression('"  Jane ".trim().lowerAscii()').evaluate(vars())).toBe("jane");
    expect(compileExpression('after.email.split("@")[1]').evaluate(vars())).toBe("example.com");
  });

  it("returns lists and maps as plain JS values and timestamps as ISO strings", () => {
    expect(compileExpression("after.tags.map(t, t.upperAscii())").evaluate(vars())).toEqual(["A", "B"]);
    expect(compileExpression('{"a": 1, "b": after.email}').evaluate(vars())).toEqual({
      a: 1n,
      b: "new@example.com",
    });
    expect(compileExpression('timestamp("2024-03-15T10:15:30.123456Z")').evaluate(vars())).toBe(
      "2024-03-15T10:15:30.123456Z",
    );
  });

  it("rejects syntax errors and unknown variables at compile time", () => {
    expect(() => compileExpression("after.id +")).toThrow(ExpressionError);
    expect(() => compileExpression("afterr.id")).toThrow(/unknown variable "afterr"/);
    expect(() => compileExpression("row.id == 1 && after.id == 2")).toThrow(/"row"/);
    // comprehension variables are bound, not unknown
    expect(() => compileExpression("after.tags.exists(t, t == 'a')")).not.toThrow();
  });

  it("reports runtime errors such as a null dereference", () => {
    const e = compileExpression("before.email");
    expect(() => e.evaluate(vars({ before: null }))).toThrow(ExpressionError);
  });
});
