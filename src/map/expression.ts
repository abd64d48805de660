// CEL expressions of transform files: compiled once at start-up, evaluated per change.
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

/** The variables a transform expression may use (SPEC §4). */
export const VARIABLES = ["op", "before", "after", "key", "source", "changed", "tx"] as const;
export type VariableName = (typeof VARIABLES)[number];
export type Bindings = Record<VariableName, unknown>;

const env = celEnv({
  funcs: strings,
  variables: Object.fromEntries(VARIABLES.map((v) => [v, CelScalar.DYN])),
});

export class ExpressionError extends Error {
  override readonly name = "ExpressionError";
}

export interface Expression {
  readonly text: string;
  /** the result as a plain JS value (lists → arrays, maps → objects, timestamps → ISO strings) */
  evaluate(bindings: Bindings): unknown;
}

/** Compiles an expression; the error says what is wrong (syntax, unknown variable). */
export function compileExpression(text: string): Expression {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ExpressionError(`expression does not compile: ${firstLine(err)}`);
  }
  const unknown = freeIdentifiers(parsed.expr).filter(
    (name) => !(VARIABLES as readonly string[]).includes(name),
  );
  if (unknown.length) {
    throw new ExpressionError(
      `unknown variable${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")} ` +
        `(available: ${VARIABLES.join(", ")})`,
    );
  }
  const run = plan(env, parsed);
  const evaluate = (bindings: Bindings): unknown => {
    const result = run(bindings as Record<string, CelInput>);
    if (isCelError(result)) throw new ExpressionError(`${result.message} in \`${text}\``);
    return toPlain(result);
  };
  const column = columnSelect(parsed.expr);
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
function columnSelect(expr: unknown): { variable: RowVariable; name: string } | undefined {
  const kind = (expr as AstNode | undefined)?.exprKind;
  if (kind?.case !== "selectExpr") return undefined;
  const select = kind.value as { operand?: unknown; field?: unknown; testOnly?: unknown };
  const operand = (select.operand as AstNode | undefined)?.exprKind;
  if (select.testOnly !== false || typeof select.field !== "string" || select.field === "__proto__")
    return undefined;
  if (operand?.case !== "identExpr") return undefined;
  const variable = (operand.value as { name?: unknown }).name;
  if (typeof variable !== "string" || !ROW_VARIABLES.has(variable)) return undefined;
  return { variable: variable as RowVariable, name: select.field };
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
        visit(v.target, bound);
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
