// A static check of a parsed CEL expression against the functions the environment declares (@bufbuild/cel does
// not export its checker): unknown functions, wrong argument counts and argument types that no overload accepts
// are reported when the transform is loaded instead of as a dead letter per record. Types unknown until run
// time (columns, `dyn`) are accepted everywhere, so a valid expression is never rejected.
import type { CelEnv, CelFunc, CelType } from "@bufbuild/cel";

/** The static types told apart; "dyn" is anything. */
export type StaticType =
  | "dyn"
  | "int"
  | "uint"
  | "double"
  | "string"
  | "bool"
  | "bytes"
  | "null"
  | "list"
  | "map"
  | "timestamp"
  | "duration"
  | "type";

/** Operators the planner evaluates itself (not functions of the environment). */
const BUILT_IN = new Set(["_[_]", "_[?_]", "_?._", "@not_strictly_false", "__not_strictly_false__"]);

function staticType(t: CelType): StaticType {
  switch (t.kind) {
    case "list":
      return "list";
    case "map":
      return "map";
    case "object":
      if (t.name === "google.protobuf.Timestamp") return "timestamp";
      if (t.name === "google.protobuf.Duration") return "duration";
      return "dyn";
    case "scalar":
      return t.scalar === "null_type" ? "null" : (t.scalar as StaticType);
  }
}

const accepts = (param: StaticType, arg: StaticType) => param === "dyn" || arg === "dyn" || param === arg;

/** An overload as a user writes it: `int + int`, `-double`, `string.replace(string, string)`, `size(list)`. */
function signature(f: CelFunc): string {
  const types = f.arguments.map((a) => staticType(a));
  const op = operator(f.name);
  if (op !== f.name && types.length === 2) return `${types[0]} ${op} ${types[1]}`;
  if (op !== f.name && types.length === 1) return `${op}${types[0]}`;
  const args = types.join(", ");
  return f.target ? `${staticType(f.target)}.${f.name}(${args})` : `${f.name}(${args})`;
}

interface Node {
  exprKind?: { case?: string; value?: unknown };
}

/** The first problem of the expression, or null; `variables` maps each variable to its static type. */
export function typeProblem(
  env: CelEnv,
  root: unknown,
  variables: ReadonlyMap<string, StaticType>,
): string | null {
  const checker = new TypeChecker(env);
  checker.typeOf(root, variables);
  return checker.problems[0] ?? null;
}

type Scope = ReadonlyMap<string, StaticType>;

const CONSTANT_TYPES: Record<string, StaticType> = {
  int64Value: "int",
  uint64Value: "uint",
  doubleValue: "double",
  stringValue: "string",
  bytesValue: "bytes",
  boolValue: "bool",
  nullValue: "null",
};

/** Walks a checked expression, giving each node its static type and collecting the problems in order. */
class TypeChecker {
  readonly problems: string[] = [];
  constructor(private readonly env: CelEnv) {}

  typeOf(node: unknown, scope: Scope): StaticType {
    const kind = (node as Node | undefined)?.exprKind;
    const v = (kind?.value ?? {}) as Record<string, unknown>;
    switch (kind?.case) {
      case "constExpr": {
        const c = (v.constantKind as { case?: string } | undefined)?.case;
        return (c && CONSTANT_TYPES[c]) || "dyn";
      }
      case "identExpr":
        return scope.get(v.name as string) ?? "dyn";
      case "selectExpr":
        this.typeOf(v.operand, scope);
        return v.testOnly === true ? "bool" : "dyn";
      case "listExpr":
        for (const e of (v.elements as unknown[]) ?? []) this.typeOf(e, scope);
        return "list";
      case "structExpr":
        for (const entry of (v.entries as { keyKind?: { value?: unknown }; value?: unknown }[]) ?? []) {
          this.typeOf(entry.keyKind?.value, scope);
          this.typeOf(entry.value, scope);
        }
        return v.messageName ? "dyn" : "map";
      case "comprehensionExpr":
        return this.comprehensionType(v, scope);
      case "callExpr":
        return this.callType(v, scope);
      default:
        return "dyn";
    }
  }

  private comprehensionType(v: Record<string, unknown>, scope: Scope): StaticType {
    this.typeOf(v.iterRange, scope);
    this.typeOf(v.accuInit, scope);
    const inner = new Map(scope);
    for (const name of [v.iterVar, v.iterVar2, v.accuVar])
      if (typeof name === "string" && name) inner.set(name, "dyn");
    this.typeOf(v.loopCondition, inner);
    this.typeOf(v.loopStep, inner);
    this.typeOf(v.result, inner);
    return "dyn";
  }

  private callType(call: Record<string, unknown>, scope: Scope): StaticType {
    const name = call.function as string;
    const target = call.target as Node | undefined;
    const argNodes = (call.args as unknown[]) ?? [];
    // `strings.quote(x)`: a namespaced function, not a method of a variable
    const targetIdent =
      target?.exprKind?.case === "identExpr" ? (target.exprKind.value as { name: string }) : null;
    if (targetIdent && !scope.has(targetIdent.name) && this.env.funcs.find(`${targetIdent.name}.${name}`)) {
      return this.overloadType(`${targetIdent.name}.${name}`, undefined, argNodes, scope);
    }
    const targetType = target ? this.typeOf(target, scope) : undefined;
    switch (name) {
      case "_&&_":
      case "_||_":
      case "!_": {
        const types = argNodes.map((a) => this.typeOf(a, scope));
        const bad = types.find((t) => !accepts("bool", t));
        if (bad) this.problems.push(`${operator(name)} needs bool operands, got ${bad}`);
        return "bool";
      }
      case "_?_:_": {
        const [cond, yes, no] = argNodes.map((a) => this.typeOf(a, scope));
        if (cond && !accepts("bool", cond))
          this.problems.push(`the condition of ?: must be a bool, got ${cond}`);
        return yes === no && yes ? yes : "dyn";
      }
    }
    if (BUILT_IN.has(name)) {
      for (const a of argNodes) this.typeOf(a, scope);
      return name.includes("not_strictly_false") ? "bool" : "dyn";
    }
    return this.overloadType(name, targetType, argNodes, scope);
  }

  private overloadType(
    name: string,
    targetType: StaticType | undefined,
    argNodes: unknown[],
    scope: Scope,
  ): StaticType {
    const argTypes = argNodes.map((a) => this.typeOf(a, scope));
    const group = this.env.funcs.find(name);
    const shown = operator(name);
    if (!group) {
      this.problems.push(`unknown function ${targetType ? `.${shown}()` : `${shown}()`}`);
      return "dyn";
    }
    const all = [...group];
    const shaped = all.filter(
      (f) =>
        (f.target !== undefined) === (targetType !== undefined) && f.arguments.length === argTypes.length,
    );
    const got = callAsWritten(name, shown, targetType, argTypes);
    const expected = all.map(signature).join("; ");
    if (!shaped.length) {
      this.problems.push(`${got}: no such overload (overloads: ${expected})`);
      return "dyn";
    }
    const matching = shaped.filter(
      (f) =>
        (!f.target || accepts(staticType(f.target), targetType ?? "dyn")) &&
        f.arguments.every((p, i) => accepts(staticType(p), argTypes[i] ?? "dyn")),
    );
    if (!matching.length) {
      this.problems.push(`${got}: wrong argument types (overloads: ${expected})`);
      return "dyn";
    }
    const results = new Set(matching.map((f) => staticType(f.result)));
    return results.size === 1 ? [...results][0]! : "dyn";
  }
}

/** A call with its argument types as the user wrote it: `int + string`, `-bool`, `string.size(int)`. */
function callAsWritten(
  name: string,
  shown: string,
  targetType: StaticType | undefined,
  argTypes: StaticType[],
): string {
  return shown !== name && argTypes.length === 2
    ? `${argTypes[0]} ${shown} ${argTypes[1]}`
    : shown !== name && argTypes.length === 1
      ? `${shown}${argTypes[0]}`
      : `${targetType ? `${targetType}.` : ""}${shown}(${argTypes.join(", ")})`;
}

function operator(name: string): string {
  const m = /^_(.+)_$/.exec(name) ?? /^(.+)_$/.exec(name);
  if (name === "@in") return "in";
  return m?.[1] ?? name;
}
