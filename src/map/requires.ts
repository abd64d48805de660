// `requires:` of a transform file (docs/transforms.md): the parent rows a change of the table waits for.
import type { Node } from "yaml";
import { REQUIRE_SCHEMA } from "../config/schema.js";
import { SectionReader } from "../config/section-reader.js";
import type { Problem, YamlNode, YamlSource } from "../config/yaml-source.js";
import { compileExpression, ExpressionError, type Expression } from "./expression.js";

export interface RequireDeclaration {
  /** the parent table, "<schema>.<table>" */
  table: string;
  /** the parent's primary key computed from the child change (a list for a composite key) */
  key: Expression;
  /** which changes wait (default `op != "d"`) */
  when: Expression;
  timeoutMs: number;
  onTimeout: "dead-letter" | "publish";
  file: string;
  line: number;
}

/** The entries of `requires:` (item nodes as the section reader hands them over); problems at their lines. */
export function readRequires(
  yaml: YamlSource,
  items: readonly Node[],
  problems: Problem[],
): RequireDeclaration[] {
  const out: RequireDeclaration[] = [];
  items.forEach((node, i) => {
    const where = `requires[${i}]`;
    const before = problems.length;
    const reader = new SectionReader(yaml, node as YamlNode, problems, {
      where,
      expand: (text) => text.trim(),
      blankIsMissing: true,
    });
    reader.unknownKeys(REQUIRE_SCHEMA);
    reader.readAll(REQUIRE_SCHEMA);
    const v = reader.values;
    const compile = (what: "key" | "when"): Expression | null => {
      try {
        return compileExpression(String(v[what]));
      } catch (err) {
        const message = err instanceof ExpressionError ? err.message : String(err);
        problems.push(yaml.problem(reader.nodes.get(what) ?? node, `${where}.${what}: ${message}`));
        return null;
      }
    };
    const key = v.key ? compile("key") : null;
    const when = compile("when");
    if (problems.length > before || !key || !when) return;
    out.push({
      table: v.table as string,
      key,
      when,
      timeoutMs: v.timeout as number,
      onTimeout: v.onTimeout as "dead-letter" | "publish",
      file: yaml.file,
      line: yaml.lineOf(node),
    });
  });
  return out;
}
