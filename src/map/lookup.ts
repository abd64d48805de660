// `lookup("<schema>.<table>", KEY[, "index"])` in CEL expressions: the current row image of a `state: rows` table
// (docs/transforms.md). Evaluation is synchronous and reads the in-memory view the worker filled before the batch
// (table-state.ts); the view in use is module state set around the mapping of one change (withLookups), as
// evaluations are never nested across changes.
import {
  celFunc,
  celList,
  celMap,
  CelScalar,
  isCelList,
  isCelMap,
  parse,
  type CelInput,
} from "@bufbuild/cel";
import { UNAVAILABLE, type ColumnValue, type Row } from "../decode/change-event.js";

/** What lookup() reads: the in-memory table state. */
export interface LookupSource {
  /** the row of `table` with primary key `key` (a value, or values in key-column order), or via `index`; null if none */
  lookup(table: string, key: unknown, index?: string): Row | null;
}

// A lookup that cannot be answered (no table state, a wrong key shape) throws a plain Error: @bufbuild/cel turns
// it into the evaluation's error, which the mapper reports as the record's MAP dead letter (ExpressionError).

let current: LookupSource | null = null;

/** Runs `fn` (the mapping of one change) with `source` answering lookup(). */
export function withLookups<T>(source: LookupSource | null, fn: () => T): T {
  const outer = current;
  current = source;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

const PLACEHOLDER_TEXT = "__debezium_unavailable_value";
const celRows = new WeakMap<Row, unknown>();

/** A row as CEL reads it: a map of its columns (nested structs as maps); unavailable columns as the placeholder text. */
function celRow(row: Row): unknown {
  const entries = new Map<string, CelInput>();
  for (const name of Object.keys(row)) entries.set(name, celColumn(row[name] ?? null) as CelInput);
  return celMap(entries);
}

function celColumn(value: ColumnValue): unknown {
  if (value === UNAVAILABLE) return PLACEHOLDER_TEXT;
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return celList(value.map(celColumn) as CelInput[]);
  return celRow(value as Row);
}

/** A key from CEL: scalars as they are, lists as arrays. */
function plainKey(value: unknown): unknown {
  if (isCelList(value)) return [...value].map(plainKey);
  if (isCelMap(value)) throw new Error("lookup: a key must be a value or a list of values, not a map");
  return value;
}

function run(table: unknown, key: unknown, index?: unknown): unknown {
  if (!current) {
    throw new Error(`lookup("${String(table)}"): no table state in this run (declare state: rows)`);
  }
  const row = current.lookup(String(table), plainKey(key), index === undefined ? undefined : String(index));
  if (row === null) return null;
  // images in the view are never changed in place (a change replaces them): their CEL form can be kept
  let cel = celRows.get(row);
  if (cel === undefined) celRows.set(row, (cel = celRow(row)));
  return cel;
}

/** The CEL overloads of lookup(): (table, key) and (table, key, index). */
export const LOOKUP_FUNCTIONS = [
  celFunc(
    "lookup",
    [CelScalar.STRING, CelScalar.DYN],
    CelScalar.DYN,
    (table, key) => run(table, key) as CelInput,
  ),
  celFunc(
    "lookup",
    [CelScalar.STRING, CelScalar.DYN, CelScalar.STRING],
    CelScalar.DYN,
    (table, key, index) => run(table, key, index) as CelInput,
  ),
];

/** A lookup() call as written: its table and index when they are literal strings, its key's arity when a list literal. */
export interface LookupCall {
  table: string | null;
  index: string | null;
  /** values of a list-literal key; 1 for any other expression that is not a list literal; null when unknown */
  arity: number | null;
}

interface AstNode {
  exprKind?: { case?: string; value?: unknown };
}

/** The lookup() calls of an expression's text (empty when it does not parse: the compile error says why). */
export function lookupCalls(text: string): LookupCall[] {
  if (!text.includes("lookup")) return [];
  let root: unknown;
  try {
    root = parse(text).expr;
  } catch {
    return [];
  }
  const calls: LookupCall[] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== "object" || ArrayBuffer.isView(node)) return;
    if (Array.isArray(node)) return node.forEach(walk);
    const kind = (node as AstNode).exprKind;
    if (kind?.case === "callExpr") {
      const call = kind.value as { function?: string; target?: unknown; args?: unknown[] };
      if (call.function === "lookup" && !call.target) {
        const args = call.args ?? [];
        calls.push({ table: literal(args[0]), index: literal(args[2]), arity: arityOf(args[1]) });
      }
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(root);
  return calls;
}

function literal(node: unknown): string | null {
  const kind = (node as AstNode | undefined)?.exprKind;
  if (kind?.case !== "constExpr") return null;
  const constant = kind.value as { constantKind?: { case?: string; value?: unknown } };
  return constant.constantKind?.case === "stringValue" ? String(constant.constantKind.value) : null;
}

function arityOf(node: unknown): number | null {
  const kind = (node as AstNode | undefined)?.exprKind;
  if (!kind) return null;
  if (kind.case === "listExpr") return ((kind.value as { elements?: unknown[] }).elements ?? []).length;
  return kind.case === "constExpr" ? 1 : null;
}

/** What `changecast check` knows of the state tables: their names, each index's arity, declared key columns. */
export interface StateCatalog {
  /** absent: the table does not declare state: rows */
  tables: ReadonlyMap<
    string,
    {
      /** index name → number of expressions */
      indexes: ReadonlyMap<string, number>;
      /** `primaryKey:` when declared */
      keyColumns: readonly string[] | null;
    }
  >;
}

/** Problems of the lookup() calls of one expression (a message each, without file and line). */
export function lookupProblems(text: string, catalog: StateCatalog): string[] {
  const problems: string[] = [];
  for (const call of lookupCalls(text)) {
    if (call.table === null) {
      problems.push(`lookup(): the table must be a string literal ("<schema>.<table>")`);
      continue;
    }
    const table = catalog.tables.get(call.table);
    if (!table) {
      const known = [...catalog.tables.keys()];
      problems.push(
        `lookup("${call.table}"): the table does not declare state: rows` +
          (known.length ? ` (tables with state: ${known.join(", ")})` : " (no table declares state: rows)"),
      );
      continue;
    }
    const { indexes, keyColumns } = table;
    if (call.index === null) {
      if (keyColumns && call.arity !== null && call.arity !== keyColumns.length) {
        problems.push(
          `lookup("${call.table}"): the key has ${call.arity} value${call.arity > 1 ? "s" : ""}, the primary key ` +
            `has ${keyColumns.length} column${keyColumns.length > 1 ? "s" : ""} (${keyColumns.join(", ")})`,
        );
      }
      continue;
    }
    const arity = indexes.get(call.index);
    if (arity === undefined) {
      const names = [...indexes.keys()];
      problems.push(
        `lookup("${call.table}", …, "${call.index}"): no index "${call.index}"` +
          (names.length ? ` (indexes: ${names.join(", ")})` : " (the table declares no index)"),
      );
    } else if (call.arity !== null && call.arity !== arity) {
      problems.push(
        `lookup("${call.table}", …, "${call.index}"): the key has ${call.arity} value${call.arity > 1 ? "s" : ""}, ` +
          `the index has ${arity} expression${arity > 1 ? "s" : ""}`,
      );
    }
  }
  return problems;
}
