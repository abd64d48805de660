// `state: rows` and `index:` of a transform file (docs/transforms.md), and the checks that need every file:
// lookup() calls naming a table with state, an index it declares, and a key of the index's arity.
import { isScalar, isSeq, type Node } from "yaml";
import { mapEntries, seqItems, type Problem, type YamlNode, type YamlSource } from "../config/yaml-source.js";
import type { SectionReader } from "../config/section-reader.js";
import type { ChangeEvent, Row } from "../decode/change-event.js";
import { compileExpression, ExpressionError, type Expression } from "./expression.js";
import { lookupCalls, lookupProblems, type StateCatalog } from "./lookup.js";
import { bindingsFor } from "./mapper.js";
import type { StateDeclaration, StateIndex } from "./table-state.js";
import type { TransformFile } from "./transform-file.js";

/** The file's state declaration (null without `state: rows`); problems of `state`, `index` and empty `events`. */
export function readStateDeclaration(
  yaml: YamlSource,
  settings: SectionReader,
  table: string,
  eventCount: number,
  problems: Problem[],
): StateDeclaration | null {
  const rows = settings.values.state === "rows";
  const indexNode = settings.has("index") ? (settings.nodes.get("index") ?? null) : null;
  if (!rows && eventCount === 0) {
    problems.push(
      yaml.problem(
        settings.nodes.get("events") ?? yaml.doc.contents,
        "events: at least one event is required (or state: rows, to keep the table only as state for lookups)",
      ),
    );
  }
  const primaryKey = (settings.values.primaryKey as string[] | undefined) ?? [];
  if (!rows) {
    if (indexNode) problems.push(yaml.problem(indexNode, "index: needs state: rows"));
    if (primaryKey.length)
      problems.push(yaml.problem(settings.nodes.get("primaryKey"), "primaryKey: needs state: rows"));
    return null;
  }
  return {
    table,
    indexes: indexNode ? readIndexes(yaml, indexNode, problems) : [],
    ...(primaryKey.length ? { primaryKey } : {}),
    file: yaml.file,
    line: yaml.lineOf(settings.nodes.get("state")),
  };
}

function readIndexes(yaml: YamlSource, node: YamlNode, problems: Problem[]): StateIndex[] {
  const indexes: StateIndex[] = [];
  for (const [name, keyNode, value] of mapEntries(node)) {
    const items: Node[] = isSeq(value) ? seqItems(value) : value ? [value as Node] : [];
    if (!items.length) {
      problems.push(yaml.problem(keyNode, `index "${name}": a list of expressions over after is required`));
      continue;
    }
    const expressions: Expression[] = [];
    for (const item of items) {
      const text = isScalar(item) && item.value !== null ? String(item.value).trim() : "";
      if (!text) {
        problems.push(yaml.problem(item, `index "${name}": each entry must be a CEL expression (text)`));
        continue;
      }
      try {
        expressions.push(compileExpression(text));
      } catch (err) {
        const message = err instanceof ExpressionError ? err.message : String(err);
        problems.push(yaml.problem(item, `index "${name}": ${message}`));
      }
    }
    if (expressions.length === items.length) indexes.push({ name, expressions, line: yaml.lineOf(keyNode) });
  }
  return indexes;
}

/** The index key of a row: its expressions evaluated with the row as `after` (as for a snapshot read of it). */
export function indexKeyOf(expressions: Expression[], row: Row): unknown[] {
  const change: ChangeEvent = {
    op: "r",
    table: "",
    before: null,
    after: row,
    key: null,
    source: {},
    transaction: null,
    commitTimeMs: 0,
    processedTimeMs: null,
    position: { connector: "", commit: "0", change: "0", order: 0n, detail: "", snapshot: true },
  };
  const bindings = bindingsFor(change);
  return expressions.map((e) => e.evaluate(bindings));
}

/** The state declarations of the files, one per table (the indexes of several files of one table merged). */
export function stateDeclarations(files: readonly TransformFile[]): StateDeclaration[] {
  const byTable = new Map<string, StateDeclaration>();
  for (const file of files) {
    if (!file.state) continue;
    const seen = byTable.get(file.state.table);
    if (!seen) byTable.set(file.state.table, { ...file.state, indexes: [...file.state.indexes] });
    else if (!seen.primaryKey && file.state.primaryKey) seen.primaryKey = file.state.primaryKey;
    else
      for (const index of file.state.indexes)
        if (!seen.indexes.some((i) => i.name === index.name)) seen.indexes.push(index);
  }
  return [...byTable.values()];
}

/** Every expression of a file with the line it is on. */
function expressionsOf(file: TransformFile): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  // an aggregate file's events are expressions over root and member lists: lookup() works there too
  for (const event of [...file.events, ...(file.aggregate?.events ?? [])]) {
    if (event.when) out.push({ text: event.when.text, line: event.line });
    out.push({ text: event.key.text, line: event.line });
    for (const field of event.fields) out.push({ text: field.expression.text, line: field.line });
  }
  for (const index of file.state?.indexes ?? []) {
    for (const e of index.expressions) out.push({ text: e.text, line: index.line });
  }
  return out;
}

/** The tables lookup() reads (literal names): they are kept whole in memory and bootstrapped first. */
export function lookedUpTables(files: readonly TransformFile[], extra: readonly string[] = []): string[] {
  const tables = new Set<string>();
  for (const file of files) {
    for (const { text } of expressionsOf(file))
      for (const call of lookupCalls(text)) if (call.table) tables.add(call.table);
  }
  for (const text of extra) for (const call of lookupCalls(text)) if (call.table) tables.add(call.table);
  return [...tables].sort();
}

/** The tables with state, their indexes' arity and declared primary keys. */
function catalogOf(
  files: readonly TransformFile[],
  keyColumns?: ReadonlyMap<string, string[]>,
): StateCatalog {
  return {
    tables: new Map(
      stateDeclarations(files).map((d) => [
        d.table,
        {
          indexes: new Map(d.indexes.map((i) => [i.name, i.expressions.length])),
          keyColumns: d.primaryKey ?? keyColumns?.get(d.table) ?? null,
        },
      ]),
    ),
  };
}

/** `changecast check`: lookup() calls of every file against the tables with state, their indexes and arity. */
export function checkLookups(
  files: readonly TransformFile[],
  /** key columns of tables without `primaryKey:`, as the capture files' record keys show them */
  keyColumns?: ReadonlyMap<string, string[]>,
): Problem[] {
  const catalog = catalogOf(files, keyColumns);
  const problems: Problem[] = [];
  for (const file of files) {
    for (const { text, line } of expressionsOf(file)) {
      for (const message of lookupProblems(text, catalog)) problems.push({ file: file.file, line, message });
    }
  }
  return problems;
}

/** Problems of lookup() calls in expressions of other kinds of files (requires, aggregates). */
export function checkLookupText(
  text: string,
  files: readonly TransformFile[],
  at: { file: string; line: number },
): Problem[] {
  const catalog = catalogOf(files);
  return lookupProblems(text, catalog).map((message) => ({ ...at, message }));
}
