// CEL expressions of transform files: compiled (and type-checked) once at start-up, evaluated per change under
// the limits of cel-limits.ts.
import {
  celEnv,
  isCelError,
  isCelList,
  isCelMap,
  parse,
  plan,
  CelScalar,
  type CelInput,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { typeProblem, type StaticType } from "./cel-check.js";
import {
  EVALUATION_LIMITS,
  LimitExceeded,
  metered,
  meteredFunctions,
  STEP_FUNCTION,
  type EvaluationLimits,
} from "./cel-limits.js";
import { ChangecastError } from "../errors.js";
import { compileRootToJs, compileToJs, FALLBACK } from "./compiled-expression.js";
import { LOOKUP_FUNCTIONS } from "./lookup.js";

/** The variables a transform expression may use (docs/transforms.md; ts_* are the envelope's timestamps). */
export const VARIABLES = [
  "op",
  "before",
  "after",
  "key",
  "source",
  "changed",
  "tx",
  "keyChange",
  "ts_ms",
  "ts_us",
  "ts_ns",
] as const;
export type VariableName = (typeof VARIABLES)[number];
/** keyChange is optional: bindings made before it existed (tests, tools) leave it out, and it reads as absent */
export type Bindings = Record<Exclude<VariableName, "keyChange">, unknown> & { keyChange?: unknown };

/** What the checker knows of each variable before any data: rows, tx and the ts_* (null when absent) are dyn. */
const VARIABLE_TYPES: ReadonlyMap<string, StaticType> = new Map<string, StaticType>(
  VARIABLES.map((v) => [v, v === "op" ? "string" : v === "changed" ? "list" : "dyn"]),
);

// CEL's strings extension and lookup() (table state, lookup.ts)
const FUNCTIONS = [...strings, ...LOOKUP_FUNCTIONS];
const variables = Object.fromEntries(VARIABLES.map((v) => [v, CelScalar.DYN]));
const baseEnv = celEnv({ funcs: FUNCTIONS, variables });
const env = celEnv({ funcs: meteredFunctions(baseEnv), variables });

/** The environments of a variable list other than VARIABLES (all dyn), made once per list. */
const customEnvs = new Map<string, { base: typeof baseEnv; run: typeof env; types: typeof VARIABLE_TYPES }>();
function customEnv(names: readonly string[]) {
  const id = names.join("\u0000");
  let found = customEnvs.get(id);
  if (!found) {
    const vars = Object.fromEntries(names.map((v) => [v, CelScalar.DYN]));
    const base = celEnv({ funcs: FUNCTIONS, variables: vars });
    const types = new Map<string, StaticType>(names.map((v) => [v, "dyn"]));
    found = { base, run: celEnv({ funcs: meteredFunctions(base), variables: vars }), types };
    customEnvs.set(id, found);
  }
  return found;
}

export class ExpressionError extends ChangecastError {
  readonly code = "MAP_EXPRESSION";
  override readonly name = "ExpressionError";
}

/** Among an aggregate's variables: the transform bindings of its root change (compileRootToJs). */
export const ROOT_BINDINGS: unique symbol = Symbol("the root change's bindings");

export interface Expression {
  readonly text: string;
  /** the result as a plain JS value (lists → arrays, maps → objects, timestamps → ISO strings) */
  evaluate(bindings: Bindings): unknown;
}

/**
 * Compiles an expression; the error says what is wrong (syntax, unknown variable, unknown function, argument
 * types no overload accepts). Evaluations run under `limits`.
 */
export function compileExpression(
  text: string,
  limits: EvaluationLimits = EVALUATION_LIMITS,
  /** the variables the expression may use (aggregate files: root, member lists, tx; see customEnv) */
  names: readonly string[] = VARIABLES,
  /** compiled: false evaluates with CEL only (the reference the compiled form is tested against) */
  options: { compiled?: boolean } = {},
): Expression {
  const envs = names === VARIABLES ? { base: baseEnv, run: env, types: VARIABLE_TYPES } : customEnv(names);
  // the compiled form knows a transform's variables; other variable sets are evaluated by CEL
  const fast = options.compiled !== false && names === VARIABLES;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ExpressionError(`expression does not compile: ${firstLine(err)}`);
  }
  const unknown = freeIdentifiers(parsed.expr).filter((name) => !names.includes(name));
  if (unknown.length) {
    throw new ExpressionError(
      `unknown variable${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")} ` +
        `(available: ${names.join(", ")})`,
    );
  }
  const problem = typeProblem(envs.base, parsed.expr, envs.types);
  if (problem) throw new ExpressionError(problem);
  meterLoops(parsed.expr);
  const run = plan(envs.run, parsed);
  const evaluate = (bindings: Bindings): unknown => {
    try {
      return metered(limits, () => {
        const result = run(bindings as Record<string, CelInput>);
        if (isCelError(result)) throw new ExpressionError(`${result.message} in \`${text}\``);
        return toPlain(result);
      });
    } catch (err) {
      if (err instanceof LimitExceeded)
        throw new ExpressionError(`${err.message} in \`${shorten(text)}\``, { cause: err });
      throw err;
    }
  };
  // the common expressions as plain JavaScript; CEL wherever the compiled form cannot decide
  const compiled = fast ? compileToJs(parsed.expr, limits.maxCost) : undefined;
  if (compiled !== undefined) {
    return {
      text,
      evaluate: (bindings) => {
        const value = compiled(bindings);
        return value === FALLBACK ? evaluate(bindings) : value;
      },
    };
  }
  // an aggregate file's expression over its root change alone: compiled as a transform's, given the root
  // change's own bindings (ROOT_BINDINGS of the aggregate's variables); CEL wherever it cannot decide
  const overRoot =
    options.compiled !== false && !fast && names.includes("root")
      ? compileRootToJs(parsed.expr, limits.maxCost)
      : undefined;
  if (overRoot !== undefined) {
    return {
      text,
      evaluate: (bindings) => {
        const root = (bindings as { [ROOT_BINDINGS]?: Bindings })[ROOT_BINDINGS];
        const value = root === undefined ? FALLBACK : overRoot(root);
        return value === FALLBACK ? evaluate(bindings) : value;
      },
    };
  }
  // a plain column read skips CEL: the row variables of a transform, the sink's `event`
  const rows = fast
    ? ROW_VARIABLES
    : options.compiled !== false && names.includes("event")
      ? EVENT_VARIABLE
      : null;
  const column = rows ? columnSelect(parsed.expr, rows) : undefined;
  if (column === undefined) return { text, evaluate };
  const { variable, name } = column;
  return {
    text,
    evaluate(bindings) {
      // `row.column` of a scalar column: what CEL would answer, without planning through CEL values
      const row =
        RAW_ROWS in bindings
          ? (bindings as RawRows)[RAW_ROWS](variable)
          : plainOrUndefined(bindings[variable]);
      if (row !== undefined && Object.hasOwn(row, name)) {
        const value = row[name];
        const type = typeof value;
        if (
          value === null ||
          type === "string" ||
          type === "bigint" ||
          type === "number" ||
          type === "boolean"
        )
          return value;
      }
      return evaluate(bindings);
    },
  };
}

/** The variables that hold a row (a plain object of column values). */
type RowVariable = "before" | "after" | "key" | "source";
const ROW_VARIABLES: ReadonlySet<string> = new Set<RowVariable>(["before", "after", "key", "source"]);
const EVENT_VARIABLE: ReadonlySet<string> = new Set(["event"]);

/**
 * Bindings that also hand out the rows themselves, for variables whose binding is their CEL form already
 * (mapper.ts): the row when it isPlainObject, else undefined. Without it a row variable's binding is the row.
 */
export const RAW_ROWS: unique symbol = Symbol("raw rows");
export interface RawRows {
  [RAW_ROWS](variable: RowVariable): Record<string, unknown> | undefined;
}

export function plainOrUndefined(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

/**
 * An object that @bufbuild/cel's toCel surely reads as a map of its own entries: a plain object, no CEL or
 * protobuf marker symbols, no `$typeName` (protobuf message), whose `constructor` is Object's (a column named
 * "constructor" makes toCel reject the row).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype)
    return false;
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  return ctor === Object && !("$typeName" in value) && Object.getOwnPropertySymbols(value).length === 0;
}

/** `before.x`, `after.x`, `key.x`, `source.x` (not `has(…)`): the variable and the column name. */
function columnSelect(
  expr: unknown,
  rows: ReadonlySet<string>,
): { variable: RowVariable; name: string } | undefined {
  const kind = (expr as AstNode | undefined)?.exprKind;
  if (kind?.case !== "selectExpr") return undefined;
  const select = kind.value as { operand?: unknown; field?: unknown; testOnly?: unknown };
  const operand = (select.operand as AstNode | undefined)?.exprKind;
  if (select.testOnly !== false || typeof select.field !== "string" || select.field === "__proto__")
    return undefined;
  if (operand?.case !== "identExpr") return undefined;
  const variable = (operand.value as { name?: unknown }).name;
  if (typeof variable !== "string" || !rows.has(variable)) return undefined;
  return { variable: variable as RowVariable, name: select.field };
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Wraps the loop condition of every comprehension in STEP_FUNCTION, so that each iteration is charged. */
function meterLoops(root: unknown): void {
  const walk = (value: unknown): void => {
    if (!value || typeof value !== "object" || ArrayBuffer.isView(value)) return;
    if (Array.isArray(value)) return value.forEach(walk);
    const kind = (value as AstNode).exprKind;
    if (kind?.case === "comprehensionExpr") {
      const comprehension = kind.value as { loopCondition?: unknown };
      const condition = comprehension.loopCondition as { id?: bigint } | undefined;
      if (condition) {
        comprehension.loopCondition = {
          $typeName: "cel.expr.Expr",
          id: condition.id ?? 0n,
          exprKind: {
            case: "callExpr",
            value: { $typeName: "cel.expr.Expr.Call", function: STEP_FUNCTION, args: [condition] },
          },
        };
      }
    }
    for (const child of Object.values(value)) walk(child);
  };
  walk(root);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0] ?? "";
}

// Walks the parsed CEL AST (protobuf cel.expr.Expr) for identifiers not bound by a comprehension.
interface AstNode {
  exprKind?: { case?: string; value?: unknown };
}
function freeIdentifiers(root: unknown): string[] {
  const found = new Set<string>();
  const visit = (node: unknown, bound: ReadonlySet<string>): void => {
    if (!node || typeof node !== "object") return;
    const kind = (node as AstNode).exprKind;
    const v = (kind?.value ?? {}) as Record<string, unknown>;
    switch (kind?.case) {
      case "identExpr":
        if (!bound.has(v.name as string)) found.add(v.name as string);
        return;
      case "selectExpr":
        return visit(v.operand, bound);
      case "callExpr":
        // `strings.quote(x)` names a function, not a variable `strings`
        if (!isQualifiedFunction(v.target, v.function, bound)) visit(v.target, bound);
        for (const a of (v.args as unknown[]) ?? []) visit(a, bound);
        return;
      case "listExpr":
        for (const e of (v.elements as unknown[]) ?? []) visit(e, bound);
        return;
      case "structExpr":
        for (const entry of (v.entries as { keyKind?: { value?: unknown }; value?: unknown }[]) ?? []) {
          visit(entry.keyKind?.value, bound);
          visit(entry.value, bound);
        }
        return;
      case "comprehensionExpr": {
        visit(v.iterRange, bound);
        visit(v.accuInit, bound);
        const inner = new Set(bound);
        for (const name of [v.iterVar, v.iterVar2, v.accuVar])
          if (typeof name === "string" && name) inner.add(name);
        visit(v.loopCondition, inner);
        visit(v.loopStep, inner);
        visit(v.result, inner);
        return;
      }
      default:
        return;
    }
  };
  visit(root, new Set());
  return [...found];
}

function isQualifiedFunction(target: unknown, fn: unknown, bound: ReadonlySet<string>): boolean {
  const kind = (target as AstNode | undefined)?.exprKind;
  if (kind?.case !== "identExpr") return false;
  const name = (kind.value as { name?: unknown }).name;
  return (
    typeof name === "string" &&
    !bound.has(name) &&
    !(VARIABLES as readonly string[]).includes(name) &&
    baseEnv.funcs.find(`${name}.${String(fn)}`) !== undefined
  );
}

interface TimeMessage {
  $typeName?: string;
  seconds?: bigint;
  nanos?: number;
}

/** CEL runtime values → plain JS values that the encode stage understands. */
export function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (isCelList(value)) return [...value].map(toPlain);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value.entries()) {
      const name = String(k);
      // a key "__proto__" is an entry like any other (plain assignment would set the prototype, losing it)
      if (name === "__proto__") {
        Object.defineProperty(out, name, {
          value: toPlain(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[name] = toPlain(v);
    }
    return out;
  }
  const message = (value as { message?: TimeMessage }).message;
  if (message?.$typeName === "google.protobuf.Timestamp") return timestampToIso(message);
  if (message?.$typeName === "google.protobuf.Duration") {
    return `${message.seconds ?? 0n}${message.nanos ? `.${String(Math.abs(message.nanos)).padStart(9, "0")}` : ""}s`;
  }
  if (Array.isArray(value)) return value.map(toPlain);
  return value;
}

function timestampToIso(ts: TimeMessage): string {
  const seconds = ts.seconds ?? 0n;
  const nanos = ts.nanos ?? 0;
  const date = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = nanos
    ? `.${String(nanos)
        .padStart(9, "0")
        .replace(/(\d{3})(?:000)+$|0+$/, "$1")}`
    : "";
  return `${date}${fraction}Z`;
}
