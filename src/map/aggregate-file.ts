// Aggregate files (docs/transforms.md): `aggregate: <root table>` instead of `table:`; one evaluation per root row
// changed in a source transaction, with the member changes of that transaction matched to it.
import type { Node } from "yaml";
import { AGGREGATE_SCHEMA, MEMBER_SCHEMA } from "../config/schema.js";
import { SectionReader } from "../config/section-reader.js";
import { mapEntries, YamlSource, type Problem, type YamlNode } from "../config/yaml-source.js";
import { compileExpression, ExpressionError, type Expression } from "./expression.js";
import { readEventList, type EventDeclaration, type TransformFile } from "./transform-file.js";

export interface AggregateMember {
  /** the variable holding the list of matched member changes */
  name: string;
  table: string;
  /** CEL over `member` and `root` → bool */
  match: Expression;
  line: number;
  /** lines of its `table:` and `match:` (check's problems point at them) */
  tableLine?: number;
  matchLine?: number;
}

export interface AggregateDeclaration {
  /** the root table */
  root: string;
  members: AggregateMember[];
  events: EventDeclaration[];
  file: string;
}

/** Variables of a `match` expression. */
export const MATCH_VARIABLES = ["member", "root"] as const;
const RESERVED = new Set(["root", "tx", "member"]);
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads `file` as an aggregate file; null when it is not one (no `aggregate:` key), so that the caller reads it as
 * a table's transform file. Problems carry their lines.
 */
export function readAggregateFile(
  file: string,
  baseDir: string,
  text?: string,
  options: { allowAbsolutePaths?: boolean } = {},
): { transform: TransformFile | null; problems: Problem[] } | null {
  const { source: yaml, problems } = YamlSource.read(file, text);
  if (!yaml) return null;
  const root = yaml.doc.contents as YamlNode;
  if (!mapEntries(root).some(([k]) => k === "aggregate")) return null;
  const reader = new SectionReader(yaml, root, problems, {
    where: "aggregate file",
    expand: (t) => t.trim(),
    blankIsMissing: true,
  });
  reader.unknownKeys(AGGREGATE_SCHEMA);
  reader.readAll(AGGREGATE_SCHEMA);
  const rootTable = reader.values.aggregate as string;
  const members = readMembers(yaml, reader.values.members as YamlNode, problems);
  // every member named is a variable of the events, also one whose own declaration has a problem
  const memberNames = mapEntries(reader.values.members as YamlNode)
    .map(([name]) => name)
    .filter((name) => VARIABLE_NAME.test(name) && !RESERVED.has(name));
  const names = ["root", "tx", ...memberNames];
  const dirs = { baseDir, allowOutside: options.allowAbsolutePaths ?? false };
  const events = readEventList(
    yaml,
    (reader.values.events as Node[] | undefined) ?? [],
    dirs,
    problems,
    names,
  );
  const aggregate: AggregateDeclaration = { root: rootTable, members, events, file };
  return { transform: { file, table: rootTable, events: [], aggregate }, problems };
}

function readMembers(yaml: YamlSource, node: YamlNode, problems: Problem[]): AggregateMember[] {
  const out: AggregateMember[] = [];
  for (const [name, keyNode, value] of mapEntries(node)) {
    if (!VARIABLE_NAME.test(name) || RESERVED.has(name)) {
      problems.push(
        yaml.problem(keyNode, `members: "${name}" must be a variable name other than root, tx, member`),
      );
      continue;
    }
    const before = problems.length;
    const reader = new SectionReader(yaml, value, problems, {
      where: `members.${name}`,
      expand: (t) => t.trim(),
      blankIsMissing: true,
    });
    reader.unknownKeys(MEMBER_SCHEMA);
    reader.readAll(MEMBER_SCHEMA);
    if (problems.length > before) continue;
    let match: Expression;
    try {
      match = compileExpression(String(reader.values.match), undefined, MATCH_VARIABLES);
    } catch (err) {
      const message = err instanceof ExpressionError ? err.message : String(err);
      problems.push(yaml.problem(reader.nodes.get("match") ?? value, `members.${name}.match: ${message}`));
      continue;
    }
    const tableNode = reader.nodes.get("table");
    const matchNode = reader.nodes.get("match");
    out.push({
      name,
      table: reader.values.table as string,
      match,
      line: yaml.lineOf(keyNode),
      ...(tableNode ? { tableLine: yaml.lineOf(tableNode) } : {}),
      ...(matchNode ? { matchLine: yaml.lineOf(matchNode) } : {}),
    });
  }
  return out;
}
