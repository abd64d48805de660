// `changecast check`: validates config, transforms, schemas and expressions; `file:line: message` per problem,
// `file:line: warning: message` for what is valid but most likely a mistake (warnings alone exit 0).
import { readPipelineConfig } from "../config/pipeline-config.js";
import { formatProblem } from "../config/yaml-source.js";
import { desiredSubjects, loadTransforms } from "../worker/pipeline-setup.js";
import type { CommandIO } from "./io.js";

export function checkCommand(opts: { config: string }, io: CommandIO): number {
  const { config, problems } = readPipelineConfig(opts.config);
  if (config) {
    const loaded = loadTransforms(config, { captureKeys: true });
    problems.push(...loaded.problems);
    for (const file of loaded.transforms.files)
      for (const warning of file.warnings ?? []) io.err(formatProblem(warning));
    if (problems.length === 0) {
      const events = loaded.transforms.declarations.length;
      const subjects = desiredSubjects(config, loaded.transforms).length;
      io.out(
        `ok: ${config.transforms.length} transform files, ${loaded.transforms.tables.length} tables, ${events} events, ${subjects} subjects`,
      );
      return 0;
    }
  }
  for (const p of problems) io.err(formatProblem(p));
  io.err(`${problems.length} problem${problems.length === 1 ? "" : "s"}`);
  return 1;
}
