// `changecast check` (and every start) of the held-change declarations: `requires:` parents keep table state,
// aggregate files name distinct tables and have a transaction topic to read; lookup() in their expressions.
import type { Problem } from "../config/yaml-source.js";
import { checkLookupText, stateDeclarations } from "./state-declaration.js";
import type { TransformFile } from "./transform-file.js";

export function checkHeldDeclarations(
  files: readonly TransformFile[],
  source: { transactionTopic: string },
): Problem[] {
  const problems: Problem[] = [];
  const stateTables = new Set(stateDeclarations(files).map((d) => d.table));
  for (const file of files) {
    for (const r of file.requires ?? []) {
      const at = { file: file.file, line: r.line };
      if (!stateTables.has(r.table)) {
        problems.push({
          ...at,
          message:
            `requires: parent table ${r.table} must declare \`state: rows\` in its transform file ` +
            `(a parked change waits until its parent row is in the table state)`,
        });
      }
      for (const e of [r.key, r.when]) problems.push(...checkLookupText(e.text, files, at));
    }
    const aggregate = file.aggregate;
    if (!aggregate) continue;
    const seen = new Set([aggregate.root]);
    for (const m of aggregate.members) {
      if (seen.has(m.table))
        problems.push({
          file: file.file,
          line: m.tableLine ?? m.line,
          message: `members.${m.name}: table ${m.table} is the root or another member`,
        });
      seen.add(m.table);
      problems.push(
        ...checkLookupText(m.match.text, files, { file: file.file, line: m.matchLine ?? m.line }),
      );
    }
    if (!source.transactionTopic) {
      problems.push({
        file: file.file,
        line: 1,
        message:
          "aggregate files need source.transactionTopic (Debezium `provide.transaction.metadata=true`, " +
          "e.g. <topicPrefix>.transaction) in the pipeline config",
      });
    }
  }
  return problems;
}
