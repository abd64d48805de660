// CEL expressions of the common kinds compiled to plain JavaScript closures: field access on the row variables,
// comparisons, int/double arithmetic with CEL's int64 overflow rules, string concatenation, &&, ||, !, ?:,
// has(), `in`, and a few string functions. A closure returns the value CEL would return, or FALLBACK wherever
// CEL would fail or where it meets anything else (a list, a map, bytes, an int overflow, a division by zero, a
// mixed-type operation…): the caller then evaluates the expression with the CEL evaluator, which gives the
// exact result or error. An expression with any other construct (comprehensions, other functions — e.g. a
// `lookup()` —, indexing, uint or bytes literals) is not compiled at all.
import { isCelList } from "@bufbuild/cel";
import { RAW_ROWS, type Bindings, type RawRows } from "./expression.js";

/** What a compiled closure returns where the CEL evaluator must decide. */
export const FALLBACK: unique symbol = Symbol("evaluate with CEL");
type Result = unknown;
type Compiled = (b: Bindings, cost: Cost) => Result;
interface Cost {
  units: number;
}

const MAX_INT = 9223372036854775807n;
const MIN_INT = -9223372036854775808n;
const ROW_VARIABLES: ReadonlySet<string> = new Set(["before", "after", "key", "source"]);
const SCALAR_VARIABLES: ReadonlySet<string> = new Set(["op", "ts_ms", "ts_us", "ts_ns"]);

interface AstNode {
  exprKind?: { case?: string; value?: unknown };
}

/**
 * The JS closure of a parsed expression, or undefined when the expression uses anything not compiled.
 * `maxCost`: the evaluation cost limit; a closure that nears it (long string concatenations) falls back.
 */
export function compileToJs(root: unknown, maxCost: number): ((b: Bindings) => unknown) | undefined {
  const compiled = compileNode(root);
  if (compiled === undefined) return undefined;
  const budget = maxCost / 4;
  return (bindings) => {
    const cost: Cost = { units: 0 };
    try {
      const v = compiled(bindings, cost);
      if (cost.units > budget) return FALLBACK;
      return isScalar(v) ? v : FALLBACK;
    } catch {
      return FALLBACK;
    }
  };
}

/** The members of an aggregate's `root` map (aggregates.ts changeValue): the change's own transform variables. */
const ROOT_MEMBERS: ReadonlySet<string> = new Set(["op", "before", "after", "key", "source"]);
const NOT_ROOT_ONLY: unique symbol = Symbol("reads more than the root change");

/**
 * compileToJs for an expression of an aggregate file that reads its root change only: `root.op`, `root.after.x`
 * … are read as a transform reads `op`, `after.x` … (the root map holds exactly these, made from the same
 * bindings), so the closure takes the root change's transform bindings. Undefined for an expression that reads
 * anything else (member lists, tx, `root` itself) or is not compiled.
 */
export function compileRootToJs(root: unknown, maxCost: number): ((b: Bindings) => unknown) | undefined {
  const rewritten = rootAsTransform(root);
  return rewritten === NOT_ROOT_ONLY ? undefined : compileToJs(rewritten, maxCost);
}

/** A copy of the parsed expression with `root.<member>` as the bare identifier `<member>`. */
function rootAsTransform(node: unknown): unknown {
  if (node === null || typeof node !== "object" || ArrayBuffer.isView(node)) return node;
  if (Array.isArray(node)) {
    const out: unknown[] = [];
    for (const n of node) {
      const r = rootAsTransform(n);
      if (r === NOT_ROOT_ONLY) return NOT_ROOT_ONLY;
      out.push(r);
    }
    return out;
  }
  const kind = (node as AstNode).exprKind;
  // any other variable (a member list, tx, root alone), or a comprehension's own
  if (kind?.case === "identExpr" || kind?.case === "comprehensionExpr") return NOT_ROOT_ONLY;
  if (kind?.case === "selectExpr") {
    const v = kind.value as Record<string, unknown>;
    const operand = (v.operand as AstNode | undefined)?.exprKind;
    if (operand?.case === "identExpr" && (operand.value as { name?: unknown }).name === "root") {
      const field = v.field;
      if (v.testOnly === true || typeof field !== "string" || !ROOT_MEMBERS.has(field)) return NOT_ROOT_ONLY;
      return { ...node, exprKind: { case: "identExpr", value: { name: field } } };
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(node)) {
    const r = rootAsTransform(value);
    if (r === NOT_ROOT_ONLY) return NOT_ROOT_ONLY;
    out[k] = r;
  }
  return out;
}

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return v === null || t === "string" || t === "bigint" || t === "number" || t === "boolean";
}

/** A row variable's plain row, null for a null row, or FALLBACK (a row CEL reads its own way). */
function rowOf(b: Bindings, variable: "before" | "after" | "key" | "source"): unknown {
  if (RAW_ROWS in b) {
    const raw = (b as unknown as RawRows)[RAW_ROWS](variable);
    if (raw !== undefined) return raw;
  }
  const value = b[variable];
  if (value === null) return null;
  if (!(RAW_ROWS in b) && isPlain(value)) return value;
  return FALLBACK;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype)
    return false;
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  return ctor === Object && !("$typeName" in value) && Object.getOwnPropertySymbols(value).length === 0;
}

function isRow(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function compileNode(node: unknown): Compiled | undefined {
  const kind = (node as AstNode | undefined)?.exprKind;
  const v = (kind?.value ?? {}) as Record<string, unknown>;
  switch (kind?.case) {
    case "constExpr":
      return constant(v.constantKind as { case?: string; value?: unknown } | undefined);
    case "identExpr": {
      const name = v.name as string;
      if (ROW_VARIABLES.has(name)) {
        const variable = name as "before" | "after" | "key" | "source";
        return (b) => rowOf(b, variable);
      }
      if (SCALAR_VARIABLES.has(name)) {
        return (b) => {
          const x = b[name as keyof Bindings];
          return isScalar(x) ? x : FALLBACK;
        };
      }
      if (name === "changed") return (b) => b.changed;
      return undefined;
    }
    case "selectExpr":
      return select(v);
    case "callExpr":
      return call(v);
    default:
      return undefined;
  }
}

function constant(c: { case?: string; value?: unknown } | undefined): Compiled | undefined {
  switch (c?.case) {
    case "int64Value":
    case "doubleValue":
    case "stringValue":
    case "boolValue": {
      const value = c.value;
      return () => value;
    }
    case "nullValue":
      return () => null;
    default:
      return undefined;
  }
}

/** `row.column` (a scalar column) and `has(row.column)`. */
function select(v: Record<string, unknown>): Compiled | undefined {
  const field = v.field;
  if (typeof field !== "string" || field === "__proto__") return undefined;
  const operand = compileNode(v.operand);
  if (operand === undefined) return undefined;
  if (v.testOnly === true) {
    return (b, cost) => {
      const row = operand(b, cost);
      if (!isRow(row) || !isPlainRow(row)) return FALLBACK;
      if (!Object.hasOwn(row, field)) return false;
      // a column holding null (or a list, a map …): CEL's own presence rules
      const x = row[field];
      return x !== null && isScalar(x) ? true : FALLBACK;
    };
  }
  return (b, cost) => {
    const row = operand(b, cost);
    if (!isRow(row) || !isPlainRow(row) || !Object.hasOwn(row, field)) return FALLBACK;
    const x = row[field];
    return isScalar(x) ? x : FALLBACK;
  };
}

/** Rows come from rowOf (plain objects); anything else (CEL maps, lists) is CEL's. */
function isPlainRow(row: object): boolean {
  const proto: unknown = Object.getPrototypeOf(row);
  return proto === Object.prototype || proto === null;
}

function call(v: Record<string, unknown>): Compiled | undefined {
  const name = v.function as string;
  const argNodes = (v.args as unknown[] | undefined) ?? [];
  const targetNode = v.target as AstNode | undefined;
  const target = targetNode !== undefined ? compileNode(targetNode) : null;
  if (target === undefined) return undefined;
  const args: Compiled[] = [];
  for (const a of argNodes) {
    const c = compileNode(a);
    if (c === undefined) return undefined;
    args.push(c);
  }
  if (target !== null) return method(name, target, args);
  const [l, r, third] = args;
  switch (args.length) {
    case 1: {
      const x = l as Compiled;
      if (name === "!_") return (b, c) => bool(x(b, c), (t) => !t);
      if (name === "-_") return (b, c) => negate(x(b, c));
      if (name === "size") return (b, c) => size(x(b, c));
      if (name === "string") return (b, c) => toStringValue(x(b, c), c);
      if (name === "int") return (b, c) => toIntValue(x(b, c));
      return undefined;
    }
    case 2: {
      const a = l as Compiled;
      const z = r as Compiled;
      switch (name) {
        case "_&&_":
          return (b, c) => {
            const x = a(b, c);
            if (x === false) return false;
            if (x !== true) return FALLBACK;
            const y = z(b, c);
            return typeof y === "boolean" ? y : FALLBACK;
          };
        case "_||_":
          return (b, c) => {
            const x = a(b, c);
            if (x === true) return true;
            if (x !== false) return FALLBACK;
            const y = z(b, c);
            return typeof y === "boolean" ? y : FALLBACK;
          };
        case "_==_":
          return (b, c) => equal(a(b, c), z(b, c));
        case "_!=_":
          return (b, c) => {
            const e = equal(a(b, c), z(b, c));
            return e === FALLBACK ? e : !e;
          };
        case "_<_":
          return (b, c) => compare(a(b, c), z(b, c), (x) => x < 0);
        case "_<=_":
          return (b, c) => compare(a(b, c), z(b, c), (x) => x <= 0);
        case "_>_":
          return (b, c) => compare(a(b, c), z(b, c), (x) => x > 0);
        case "_>=_":
          return (b, c) => compare(a(b, c), z(b, c), (x) => x >= 0);
        case "_+_":
          return (b, c) => add(a(b, c), z(b, c), c);
        case "_-_":
          return (b, c) =>
            arithmetic(
              a(b, c),
              z(b, c),
              (x, y) => x - y,
              (x, y) => x - y,
            );
        case "_*_":
          return (b, c) =>
            arithmetic(
              a(b, c),
              z(b, c),
              (x, y) => x * y,
              (x, y) => x * y,
            );
        case "_/_":
          return (b, c) =>
            arithmetic(
              a(b, c),
              z(b, c),
              (x, y) => (y === 0n ? FALLBACK : x / y),
              (x, y) => x / y,
            );
        case "_%_":
          return (b, c) => arithmetic(a(b, c), z(b, c), (x, y) => (y === 0n ? FALLBACK : x % y), null);
        case "@in":
          return (b, c) => membership(a(b, c), z(b, c));
        default:
          return undefined;
      }
    }
    case 3:
      if (name !== "_?_:_") return undefined;
      return (b, c) => {
        const cond = (l as Compiled)(b, c);
        if (cond === true) return (r as Compiled)(b, c);
        if (cond === false) return (third as Compiled)(b, c);
        return FALLBACK;
      };
    default:
      return undefined;
  }
}

function method(name: string, target: Compiled, args: Compiled[]): Compiled | undefined {
  if (args.length === 0 && name === "size") return (b, c) => size(target(b, c));
  if (args.length !== 1) return undefined;
  const arg = args[0] as Compiled;
  const stringTest = (test: (s: string, t: string) => boolean): Compiled => {
    return (b, c) => {
      const s = target(b, c);
      const t = arg(b, c);
      return typeof s === "string" && typeof t === "string" ? test(s, t) : FALLBACK;
    };
  };
  switch (name) {
    case "startsWith":
      return stringTest((s, t) => s.startsWith(t));
    case "endsWith":
      return stringTest((s, t) => s.endsWith(t));
    case "contains":
      return stringTest((s, t) => s.includes(t));
    default:
      return undefined;
  }
}

function bool(x: unknown, f: (b: boolean) => boolean): unknown {
  return typeof x === "boolean" ? f(x) : FALLBACK;
}

function int64(n: bigint): bigint | typeof FALLBACK {
  return n >= MIN_INT && n <= MAX_INT ? n : FALLBACK;
}

function negate(x: unknown): unknown {
  if (typeof x === "bigint") return int64(-x);
  if (typeof x === "number") return -x;
  return FALLBACK;
}

/** CEL's size of a string counts code points. */
function size(x: unknown): unknown {
  if (typeof x !== "string") return FALLBACK;
  let n = x.length;
  for (let i = 0; i < x.length; i++) {
    const c = x.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < x.length) {
      const d = x.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return BigInt(n);
}

function toStringValue(x: unknown, cost: Cost): unknown {
  if (typeof x === "string") return x;
  if (typeof x === "boolean") return x ? "true" : "false";
  if (typeof x === "bigint") {
    const s = x.toString();
    cost.units += s.length;
    return s;
  }
  return FALLBACK;
}

function toIntValue(x: unknown): unknown {
  return typeof x === "bigint" ? x : FALLBACK;
}

function isNumeric(x: unknown): x is number | bigint {
  return typeof x === "number" || typeof x === "bigint";
}

/** CEL equality (equals.js of @bufbuild/cel) for scalars, null and rows; lists, maps and bytes: CEL's. */
function equal(x: unknown, y: unknown): unknown {
  if (x === FALLBACK || y === FALLBACK) return FALLBACK;
  const xs = isScalar(x);
  const ys = isScalar(y);
  if (xs && ys) {
    if (x === y) return true;
    if (isNumeric(x) && isNumeric(y)) return x == y;
    return false;
  }
  // a row against a scalar or null: never equal; rows, lists, maps, bytes against each other: CEL's
  if (xs && isPlainRowValue(y)) return false;
  if (ys && isPlainRowValue(x)) return false;
  return FALLBACK;
}

function isPlainRowValue(v: unknown): boolean {
  return isRow(v) && isPlainRow(v);
}

function compare(x: unknown, y: unknown, test: (sign: number) => boolean): unknown {
  let sign: number;
  if (typeof x === "bigint" && typeof y === "bigint") sign = x < y ? -1 : x > y ? 1 : 0;
  else if (typeof x === "string" && typeof y === "string") sign = x < y ? -1 : x > y ? 1 : 0;
  else if (typeof x === "boolean" && typeof y === "boolean") sign = x === y ? 0 : x ? 1 : -1;
  else if (isNumeric(x) && isNumeric(y)) {
    const a = Number(x);
    const b = Number(y);
    // NaN: every comparison is false
    if (Number.isNaN(a) || Number.isNaN(b)) return false;
    sign = a < b ? -1 : a > b ? 1 : 0;
  } else return FALLBACK;
  return test(sign);
}

function add(x: unknown, y: unknown, cost: Cost): unknown {
  if (typeof x === "string" && typeof y === "string") {
    cost.units += 2 * (x.length + y.length);
    return x + y;
  }
  return arithmetic(
    x,
    y,
    (a, b) => a + b,
    (a, b) => a + b,
  );
}

function arithmetic(
  x: unknown,
  y: unknown,
  ints: (a: bigint, b: bigint) => bigint | typeof FALLBACK,
  doubles: ((a: number, b: number) => number) | null,
): unknown {
  if (typeof x === "bigint" && typeof y === "bigint") {
    const r = ints(x, y);
    return r === FALLBACK ? r : int64(r);
  }
  if (doubles !== null && typeof x === "number" && typeof y === "number") return doubles(x, y);
  return FALLBACK;
}

/** `x in list` (changed). */
function membership(x: unknown, container: unknown): unknown {
  if (x === FALLBACK || container === FALLBACK || typeof x !== "string") return FALLBACK;
  if (isCelList(container)) {
    for (const item of container) if (item === x) return true;
    return false;
  }
  // `"column" in row`: CEL's (it reads the whole row, which can fail on a value it does not take)
  return FALLBACK;
}
