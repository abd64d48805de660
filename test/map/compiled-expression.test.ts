// The compiled form of expressions (compiled-expression.ts) against the CEL evaluator: many random expressions
// over random rows (nulls, int64 edges, doubles, unicode strings, missing columns, unavailable values) give the
// same value, or the same error (the compiled form hands every case it cannot decide to CEL).
import { describe, expect, it } from "vitest";
import { UNAVAILABLE, type ChangeEvent, type Row } from "../../src/decode/change-event.js";
import { compileRootToJs, compileToJs, FALLBACK } from "../../src/map/compiled-expression.js";
import { compileExpression, type Bindings, type Expression } from "../../src/map/expression.js";
import { bindingsFor } from "../../src/map/mapper.js";
import { Aggregates } from "../../src/worker/aggregates.js";
import type { AggregateDeclaration } from "../../src/map/aggregate-file.js";
import { celList, parse } from "@bufbuild/cel";

function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX = 9223372036854775807n;
const VALUES: Row[string][] = [
  null,
  0n,
  1n,
  -1n,
  7n,
  3n,
  MAX,
  -MAX - 1n,
  MAX - 1n,
  2n ** 53n + 1n,
  0,
  -0,
  1.5,
  -2.25,
  NaN,
  Infinity,
  1e300,
  3,
  "",
  "a",
  "b",
  "ab",
  "é",
  "😀x",
  "\ud800",
  "c",
  true,
  false,
  new Uint8Array([1]),
  ["a"],
  { n: 1n },
  UNAVAILABLE,
];
const COLUMNS = ["s", "i", "d", "b", "n", "x"];

/** A row; `source` rows never hold UNAVAILABLE (Debezium's source block has no unavailable values). */
function row(r: () => number, unavailable = true): Row {
  const out: Row = {};
  for (const c of COLUMNS) {
    if (r() >= 0.9) continue;
    const v = VALUES[Math.floor(r() * VALUES.length)] ?? null;
    out[c] = v === UNAVAILABLE && !unavailable ? null : v;
  }
  return out;
}

const LITERALS = [
  "0",
  "1",
  "-1",
  "7",
  "2",
  "9223372036854775807",
  "-9223372036854775807",
  "1.5",
  "0.0",
  "-0.0",
  '""',
  '"a"',
  '"b"',
  '"ab"',
  '"é"',
  '"😀"',
  "true",
  "false",
  "null",
];
const ROWS = ["before", "after", "key", "source"];
const SCALARS = ["op", "ts_ms", "ts_ns"];

function expr(r: () => number, depth: number): string {
  const pick = (xs: readonly string[]): string => xs[Math.floor(r() * xs.length)] as string;
  const p = r();
  if (depth > 3 || p < 0.3) {
    const q = r();
    if (q < 0.45) return `${pick(ROWS)}.${pick(COLUMNS)}`;
    if (q < 0.6) return pick(SCALARS);
    if (q < 0.65) return pick(ROWS);
    return pick(LITERALS);
  }
  const a = () => expr(r, depth + 1);
  const forms = [
    () => `${a()} == ${a()}`,
    () => `${a()} != ${a()}`,
    () => `${a()} < ${a()}`,
    () => `${a()} <= ${a()}`,
    () => `${a()} > ${a()}`,
    () => `${a()} >= ${a()}`,
    () => `(${a()} + ${a()})`,
    () => `(${a()} - ${a()})`,
    () => `(${a()} * ${a()})`,
    () => `(${a()} / ${a()})`,
    () => `(${a()} % ${a()})`,
    () => `(${a()} && ${a()})`,
    () => `(${a()} || ${a()})`,
    () => `!(${a()})`,
    () => `-(${a()})`,
    () => `(${a()} ? ${a()} : ${a()})`,
    () => `has(${pick(ROWS)}.${pick(COLUMNS)})`,
    () => `${pick(['"s"', '"i"', '"x"', "after.s"])} in changed`,
    () => `${pick(['"s"', '"x"', "before.s"])} in ${pick(ROWS)}`,
    () => `size(${a()})`,
    () => `${a()}.startsWith(${a()})`,
    () => `${a()}.contains(${a()})`,
    () => `string(${a()})`,
    () => `int(${a()})`,
    () => `${a()}.size()`,
  ];
  return (forms[Math.floor(r() * forms.length)] as () => string)();
}

function change(r: () => number): ChangeEvent {
  const ops = ["c", "u", "d", "r"] as const;
  return {
    op: ops[Math.floor(r() * 4)]!,
    table: "s.t",
    before: r() < 0.3 ? null : row(r),
    after: r() < 0.2 ? null : row(r),
    key: r() < 0.1 ? null : row(r),
    source: row(r, false),
    transaction: null,
    commitTimeMs: 0,
    processedTimeMs: null,
    envelopeTimes: { ts_ms: r() < 0.5 ? 5n : null, ts_us: null, ts_ns: MAX },
    position: { connector: "x", commit: "0", change: "0", order: 0n, detail: "", snapshot: false },
  } as ChangeEvent;
}

type Outcome = { value: unknown } | { error: string };
function outcome(e: Expression, change: ChangeEvent): Outcome {
  try {
    return { value: e.evaluate(bindingsFor(change)) };
  } catch (err) {
    return { error: (err as Error).constructor.name + ": " + (err as Error).message };
  }
}

describe("compiled expressions", () => {
  it("give CEL's value or CEL's error on random expressions and rows", () => {
    const r = random(Number(process.env.CEL_DIFF_SEED ?? 42));
    let compiledCount = 0;
    let decided = 0;
    let evaluations = 0;
    for (let i = 0; i < 3000; i++) {
      const text = expr(r, 0);
      let reference: Expression;
      try {
        reference = compileExpression(text, undefined, undefined, { compiled: false });
      } catch {
        continue; // rejected by the type check: never evaluated
      }
      const fast = compileExpression(text);
      const js = compileToJs(parse(text).expr, 20_000_000);
      if (js !== undefined) compiledCount++;
      for (let j = 0; j < 8; j++) {
        const c = change(r);
        evaluations++;
        if (js !== undefined && js(bindingsFor(c)) !== FALLBACK) decided++;
        const expected = outcome(reference, c);
        const got = outcome(fast, c);
        expect(
          got,
          `${text} over ${String(JSON.stringify(c, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)))}`,
        ).toStrictEqual(expected);
      }
    }
    // the test must exercise the compiled form, not only its fallback
    expect(compiledCount).toBeGreaterThan(1000);
    expect(decided).toBeGreaterThan(evaluations / 10);
  });

  it("an aggregate's expressions over its root change: CEL's value or error, compiled or not", () => {
    // the same random expressions with the change's variables read through `root` (root.after.x, root.op …);
    // a member list beside it is never compiled
    const r = random(Number(process.env.CEL_DIFF_SEED ?? 42) + 1);
    const names = ["root", "tx", "lines"];
    const aggregates = new Aggregates(
      [{ root: "s.t", members: [], events: [], file: "t.yaml" } as AggregateDeclaration],
      60_000,
    );
    let compiledCount = 0;
    let decided = 0;
    let evaluations = 0;
    for (let i = 0; i < 2000; i++) {
      const text = expr(r, 0).replace(
        /(?<![.\w"])(before|after|key|source|op|ts_ms|ts_ns|changed)\b/g,
        "root.$1",
      );
      const withList = r() < 0.1 ? `(${text}) == (size(lines) > 0)` : text;
      let reference: Expression;
      try {
        reference = compileExpression(withList, undefined, names, { compiled: false });
      } catch {
        continue; // rejected by the type check: never evaluated
      }
      const fast = compileExpression(withList, undefined, names);
      const js = compileRootToJs(parse(withList).expr, 20_000_000);
      if (js !== undefined) compiledCount++;
      for (let j = 0; j < 8; j++) {
        const c = change(r);
        evaluations++;
        if (js !== undefined && js(bindingsFor(c)) !== FALLBACK) decided++;
        const [evaluation] = aggregates.alone(c);
        const vars = { ...evaluation!.vars, lines: celList([]) } as unknown as Bindings;
        const evaluate = (e: Expression): Outcome => {
          try {
            return { value: e.evaluate(vars) };
          } catch (err) {
            return { error: (err as Error).constructor.name + ": " + (err as Error).message };
          }
        };
        expect(evaluate(fast), withList).toStrictEqual(evaluate(reference));
      }
    }
    // the compiled form decides often, not only falls back
    expect(compiledCount).toBeGreaterThan(500);
    expect(decided).toBeGreaterThan(evaluations / 20);
  });

  it("compiles the example's expressions and falls back for unknown constructs", () => {
    for (const text of [
      'op == "c" || op == "r"',
      'op == "u" && before != null && ("first_name" in changed || "last_name" in changed)',
      'before.email != "" ? before.email : null',
      'after.first_name + " " + after.last_name',
    ]) {
      expect(compileToJs(parse(text).expr, 1e6), text).toBeDefined();
    }
    for (const text of ["[1, 2].exists(x, x > 1)", "after.tags[0]", "1u + 2u", 'after.s.matches("a")']) {
      expect(compileToJs(parse(text).expr, 1e6), text).toBeUndefined();
    }
    // an aggregate's: over the root change alone, nothing else
    for (const text of ['root.op == "c" || root.op == "r"', "root.after.purchaser", "has(root.before.x)"]) {
      expect(compileRootToJs(parse(text).expr, 1e6), text).toBeDefined();
    }
    for (const text of ["lines.map(l, l.after.line_no)", "root", "tx.id", "has(root.after)", "root.ts_ms"]) {
      expect(compileRootToJs(parse(text).expr, 1e6), text).toBeUndefined();
    }
  });
});
