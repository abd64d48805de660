// Bounds on one CEL evaluation. @bufbuild/cel has no cost tracking, and a CEL expression can amplify its input
// (`s.replace("", s)`, `s.split("").map(…)`, nested comprehensions): a single record must not be able to keep a
// worker busy for minutes or make it allocate gigabytes. Every function of the environment is wrapped so that
// what it produces (characters, bytes, list elements) is charged to the evaluation before it is built where it
// can be predicted, and every comprehension iteration is charged one step (expression.ts rewrites each loop
// condition into a call of STEP_FUNCTION). Over the cost or the time limit, the evaluation fails.
import {
  celFunc,
  celMethod,
  CelScalar,
  isCelError,
  isCelList,
  isCelMap,
  type CelEnv,
  type CelFunc,
  type CelList,
  type CelType,
  type CelValue,
} from "@bufbuild/cel";
// the regex engine @bufbuild/cel's matches() uses (an exact dependency of it): compiled here to meter it
import { RE2JS } from "@bufbuild/re2";
import { ChangecastError } from "../errors.js";

export interface EvaluationLimits {
  /** loop iterations + characters, bytes and list elements produced by functions, per evaluation */
  maxCost: number;
  /** wall-clock time of one evaluation */
  maxMillis: number;
}

/** Defaults (docs/transforms.md): far above what a mapping of an 8 MiB record needs, far below harm. */
export const EVALUATION_LIMITS: Readonly<EvaluationLimits> = { maxCost: 20_000_000, maxMillis: 1_000 };

/** The function each comprehension's loop condition is wrapped in; `@` makes it unreachable from CEL text. */
export const STEP_FUNCTION = "@changecast_step";

export class LimitExceeded extends ChangecastError {
  readonly code = "MAP_LIMIT_EXCEEDED";
  override readonly name = "LimitExceeded";
}

interface Meter {
  cost: number;
  charges: number;
  readonly deadline: number;
  readonly limits: EvaluationLimits;
  /** the first limit exceeded: sticky, so that CEL cannot absorb it (`bomb || true`, error-tolerant macros) */
  exceeded: LimitExceeded | null;
}

// Evaluations are synchronous and never nested, so the meter of the one running is module state.
let meter: Meter | null = null;

/** Runs `evaluate` under the limits; throws LimitExceeded if it went over them, whatever it returned. */
export function metered<T>(limits: EvaluationLimits, evaluate: () => T): T {
  const outer = meter;
  const current: Meter = {
    cost: 0,
    charges: 0,
    deadline: performance.now() + limits.maxMillis,
    limits,
    exceeded: null,
  };
  meter = current;
  try {
    const result = evaluate();
    if (current.exceeded) throw current.exceeded;
    return result;
  } catch (err) {
    throw current.exceeded ?? err;
  } finally {
    meter = outer;
  }
}

/** Charges `units` to the running evaluation (none outside `metered`); throws once over a limit. */
export function charge(units: number): void {
  const m = meter;
  if (!m) return;
  if (m.exceeded) throw m.exceeded;
  m.cost += units;
  if (m.cost > m.limits.maxCost) {
    m.exceeded = new LimitExceeded(
      `evaluation stopped: over the cost limit of ${m.limits.maxCost} (loop iterations + characters and ` +
        `list elements produced)`,
    );
    throw m.exceeded;
  }
  // the clock every 32 charges: every loop iteration charges, so a long loop still meets the deadline soon
  if ((++m.charges & 31) === 0 && performance.now() > m.deadline) {
    m.exceeded = new LimitExceeded(`evaluation stopped: over the time limit of ${m.limits.maxMillis} ms`);
    throw m.exceeded;
  }
}

function sizeOf(value: unknown): number {
  if (typeof value === "string" || value instanceof Uint8Array) return value.length;
  if (isCelList(value) || isCelMap(value)) return value.size;
  return 1;
}

/** Occurrences of `part` in `s` (non-overlapping), at most `max`; "" occurs before every character and at the end. */
function occurrences(s: string, part: string, max: number): number {
  if (part === "") return Math.min(max, [...s].length + 1);
  let count = 0;
  for (let i = s.indexOf(part); i !== -1 && count < max; i = s.indexOf(part, i + part.length)) count++;
  return count;
}

/**
 * `s.replace(old, new[, n])` in linear time (the strings extension rebuilds the string per occurrence), with
 * the semantics of CEL's reference implementation: n < 0 or absent replaces all; "" matches before every
 * character and at the end.
 */
function replaceAll(s: string, old: string, replacement: string, n: number): string {
  const max = n < 0 ? Infinity : n;
  const count = occurrences(s, old, max);
  charge(s.length + count * Math.max(0, replacement.length - old.length));
  if (count === 0) return s;
  const parts: string[] = [];
  if (old === "") {
    let done = 0;
    for (const ch of s) {
      if (done++ < count) parts.push(replacement);
      parts.push(ch);
    }
    if (done < count) parts.push(replacement);
    return parts.join("");
  }
  let from = 0;
  for (let done = 0; done < count; done++) {
    const at = s.indexOf(old, from);
    parts.push(s.slice(from, at), replacement);
    from = at + old.length;
  }
  parts.push(s.slice(from));
  return parts.join("");
}

const LIST_MARK = Symbol.for("@bufbuild/cel/list");

/**
 * A list that `@result + [x]` (how the map and filter macros accumulate) appends to in place when it is the
 * newest view of its array: the library's lazy concatenation nests one level per element, so reading a list
 * of 10 000 mapped elements overflowed the stack and was quadratic.
 */
class AppendList implements Iterable<CelValue> {
  readonly [LIST_MARK] = {};
  constructor(
    readonly items: CelValue[],
    readonly size: number,
  ) {}
  get(index: number): CelValue | undefined {
    return index >= 0 && index < this.size ? this.items[index] : undefined;
  }
  *values(): IterableIterator<CelValue> {
    for (let i = 0; i < this.size; i++) yield this.items[i] as CelValue;
  }
  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }
}

function concatLists(left: CelList, right: CelList): CelList {
  if (left instanceof AppendList && left.size === left.items.length) {
    charge(right.size + 1);
    for (const v of right) left.items.push(v);
    // a CelList in all but the library's private brand, which LIST_MARK supplies at run time
    return new AppendList(left.items, left.items.length) as unknown as CelList;
  }
  charge(left.size + right.size + 1);
  const items = [...left, ...right];
  return new AppendList(items, items.length) as unknown as CelList;
}

/** Work charged before a function runs, where its output size is known from its inputs. */
function chargeBefore(name: string, target: CelValue | undefined, args: CelValue[]): void {
  const [a, b] = args;
  switch (name) {
    case "_+_":
      if (typeof a === "string" && typeof b === "string") charge(a.length + b.length);
      else if (a instanceof Uint8Array && b instanceof Uint8Array) charge(a.length + b.length);
      return;
    case "split":
      if (typeof target === "string" && typeof a === "string") {
        const limit = typeof b === "bigint" && b >= 0n ? Number(b) : Infinity;
        charge(target.length + Math.min(limit, occurrences(target, a, limit) + 1));
      }
      return;
    case "join":
      if (isCelList(target)) {
        let total = target.size;
        for (const v of target) total += typeof v === "string" ? v.length : 0;
        charge(total + (typeof a === "string" ? a.length * target.size : 0));
      }
      return;
  }
}

/** `f` with its output charged to the running evaluation (and the two amplifiers rewritten). */
function meteredFunc(f: CelFunc): CelFunc {
  const isReplace = f.name === "replace" && f.target !== undefined;
  const isListConcat = f.name === "_+_" && f.arguments.every((t) => t.kind === "list");
  const impl = (target: CelValue | undefined, args: CelValue[]): CelValue => {
    if (isReplace && typeof target === "string") {
      const [old, replacement, n] = args;
      return replaceAll(target, String(old), String(replacement), typeof n === "bigint" ? Number(n) : -1);
    }
    if (isListConcat && isCelList(args[0]) && isCelList(args[1])) return concatLists(args[0], args[1]);
    chargeBefore(f.name, target, args);
    const result = f.call(0, target, args);
    if (result === undefined) throw new Error(`found no matching overload for '${f.name}'`);
    if (isCelError(result)) throw result;
    charge(sizeOf(result));
    return result;
  };
  return f.target
    ? celMethod(f.name, f.target, f.arguments, f.result, function (...args: CelValue[]) {
        return impl(this, args);
      })
    : celFunc(f.name, f.arguments, f.result, (...args: CelValue[]) => impl(undefined, args));
}

const FIXED_SIZE = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "null_type",
  "type",
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
]);

/**
 * `text.matches(pattern)` with its work charged. RE2 never backtracks, but compiling a pattern costs about its
 * length squared (a 300 000-character pattern taken from a column compiled for minutes), and matching costs up
 * to program size × text length (`^(.*b){200}c$` over 1 MB). Both are charged before the work is done; a
 * pattern that does not compile is CEL's error, as before.
 */
function meteredMatches(f: CelFunc): CelFunc {
  return celMethod(f.name, f.target as CelType, f.arguments, f.result, function (pattern: CelValue) {
    if (typeof this !== "string" || typeof pattern !== "string")
      return f.call(0, this, [pattern]) as CelValue;
    charge(Math.ceil((pattern.length * pattern.length) / 8));
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch {
      const result = f.call(0, this, [pattern]);
      if (isCelError(result)) throw result;
      return result as CelValue;
    }
    // ~2 program steps per cost unit (a loop iteration): measured, so a simple pattern over 8 MB still runs
    charge(Math.ceil((programSize(re) * (this.length + 1)) / 2));
    return re.test(this);
  });
}

/** Instructions of a compiled RE2JS program (internal shape of @bufbuild/re2; the pattern length if absent). */
function programSize(re: RE2JS): number {
  const prog = (re as unknown as { re2Input?: { prog?: { inst?: unknown[] } } }).re2Input?.prog?.inst;
  return Array.isArray(prog) ? prog.length : re.pattern().length + 1;
}

/** Every function of `base` metered, plus the step function: pass them as `funcs` of the real environment. */
export function meteredFunctions(base: CelEnv): CelFunc[] {
  // a fixed-size result (bool, number, timestamp …) amplifies nothing: those functions stay as they are,
  // except matches(), whose cost is in compiling and running the pattern
  const out = [...base.funcs].map((f) =>
    f.name === "matches" && f.target !== undefined
      ? meteredMatches(f)
      : FIXED_SIZE.has(f.result.name)
        ? f
        : meteredFunc(f),
  );
  out.push(
    celFunc(STEP_FUNCTION, [CelScalar.DYN], CelScalar.DYN, (condition) => {
      charge(1);
      return condition;
    }),
  );
  return out;
}
