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
  ts_ms: null,
  ts_us: null,
  ts_ns: null,
  ...over,
});

describe("CEL expressions", () => {
  it("evaluates docs/transforms.md examples with ints kept exact", () => {
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
    expect(
      compileExpression('after.email.indexOf("@") + after.email.lastIndexOf("e", 5)').evaluate(vars()),
    ).toBe(7n);
    expect(compileExpression('after.email.charAt(0) + strings.quote("x")').evaluate(vars())).toBe('n"x"');
    expect(compileExpression('"%s-%d".format(["a", 1])').evaluate(vars())).toBe("a-1");
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

describe("CEL type check at compile time", () => {
  it("rejects unknown functions and methods", () => {
    expect(() => compileExpression("lower(after.email)")).toThrow(/unknown function lower\(\)/);
    expect(() => compileExpression("after.email.toLowerCase()")).toThrow(
      /unknown function \.toLowerCase\(\)/,
    );
  });

  it("rejects argument types and counts no overload accepts", () => {
    expect(() => compileExpression('after.email.replace("a", 1)')).toThrow(
      /replace\(string, int\): wrong argument types/,
    );
    expect(() => compileExpression('"a" + 1')).toThrow(/string \+ int: wrong argument types/);
    expect(() => compileExpression("after.email.trim(1)")).toThrow(/no such overload/);
    expect(() => compileExpression('int("1") + 1.5')).toThrow(/int \+ double/);
    expect(() => compileExpression("op.startsWith(1)")).toThrow(/wrong argument types/);
    expect(() => compileExpression("1 && true")).toThrow(/bool/);
  });

  it("accepts what is only known at run time and every documented idiom", () => {
    for (const text of [
      'after.first_name + " " + after.last_name',
      "int(after.qty) * 2",
      "double(after.price) * 1.2",
      "timestamp(after.created_at)",
      "source.ts_ms",
      "ts_ms",
      '"email" in changed && size(changed) > 0 && changed.size() < 10',
      'after.tags.map(t, t.upperAscii()).join(",")',
      'after["ORDER#NO"]',
      "has(after.email) ? after.email.lowerAscii() : null",
      'op == "d" ? before.id : after.id',
      '"%s-%d".format([after.a, after.b])',
      "strings.quote(after.email)",
      'after.email.split("@")[1]',
      "[1, 2].exists(x, x > 1) || after.tags.all(t, t != '')",
      'duration("1h") + timestamp("2024-01-01T00:00:00Z")',
      "after.id == 1 || after.id == 1.0 || after.id < 2.5",
    ]) {
      expect(() => compileExpression(text), text).not.toThrow();
    }
  });
});

describe("CEL evaluation limits", () => {
  const big = "x".repeat(1_000_000);
  const bombs: [string, string][] = [
    ["replace amplification", 'after.s.replace("x", after.s)'],
    ["chained replace growth", 'after.s.replace("", "yy").replace("y", "zzzz").replace("z", "wwww")'],
    ["split then map", 'after.s.split("").map(c, c + c + c).size()'],
    ["nested comprehensions", "after.s.split('').exists(a, after.s.split('').exists(b, a == b + 'q'))"],
    ["map then join", 'after.s.split("").map(c, after.s).join("")'],
  ];
  for (const [name, text] of bombs) {
    it(`stops ${name} within bounded time with a clear error`, () => {
      const e = compileExpression(text);
      const t0 = performance.now();
      expect(() => e.evaluate(vars({ after: { s: big } }))).toThrow(
        /evaluation stopped: over the (cost|time) limit/,
      );
      expect(performance.now() - t0).toBeLessThan(5_000);
    });
  }

  it("stops a bomb whose error CEL would absorb (`bomb || true`)", () => {
    const e = compileExpression(
      'after.s.split("").exists(a, after.s.split("").exists(b, a == b + "q")) || true',
    );
    expect(() => e.evaluate(vars({ after: { s: big } }))).toThrow(/evaluation stopped/);
  });

  it("still maps large columns and long lists", () => {
    expect(compileExpression('after.s.replace("x", "y")').evaluate(vars({ after: { s: big } }))).toBe(
      "y".repeat(1_000_000),
    );
    const list = compileExpression('after.s.split("").map(c, c + "!")').evaluate(
      vars({ after: { s: "ab".repeat(25_000) } }),
    ) as string[];
    expect(list).toHaveLength(50_000);
    expect(list.slice(0, 3)).toEqual(["a!", "b!", "a!"]);
  });

  it("replaces as CEL defines it", () => {
    const r = (text: string) => compileExpression(text).evaluate(vars());
    expect(r('"abc".replace("", "-")')).toBe("-a-b-c-");
    expect(r('"aaa".replace("a", "b", 2)')).toBe("bba");
    expect(r('"aaa".replace("a", "b", -1)')).toBe("bbb");
    expect(r('"aaa".replace("a", "b", 0)')).toBe("aaa");
    expect(r('"a.b.c".replace(".", "::")')).toBe("a::b::c");
  });

  it("evaluates under the limits it is given", () => {
    const e = compileExpression("[1, 2, 3, 4].map(x, x * 2)", { maxCost: 3, maxMillis: 1_000 });
    expect(() => e.evaluate(vars())).toThrow(/over the cost limit of 3/);
  });
});

describe("column names that are not identifiers (Oracle # and $)", () => {
  it("are read with an index and tested with in", () => {
    const v = vars({ after: { "ORDER#NO": 42n, X$Y: "x" } });
    expect(compileExpression('after["ORDER#NO"]').evaluate(v)).toBe(42n);
    expect(compileExpression('after["X$Y"] + "!"').evaluate(v)).toBe("x!");
    expect(compileExpression('"ORDER#NO" in after && !("NOPE#" in after)').evaluate(v)).toBe(true);
  });
});

describe("envelope timestamps", () => {
  it("are variables", () => {
    const v = vars({ ts_ms: 1710497171123n, ts_us: 1710497171123456n, ts_ns: 1710497171123456789n });
    expect(compileExpression("ts_ns").evaluate(v)).toBe(1710497171123456789n);
    expect(compileExpression("ts_us - source.ts_ms * 1000").evaluate(v)).toBe(123456n);
    expect(compileExpression("ts_ms == null").evaluate(vars())).toBe(true);
  });
});
