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
  return {
    text,
    evaluate(bindings) {
      const result = run(bindings as Record<string, CelInput>);
      if (isCelError(result)) throw new ExpressionError(`${result.message} in \`${text}\``);
      return toPlain(result);
    },
  };
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
    for (const [k, v] of value.entries()) out[String(k)] = toPlain(v);
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
