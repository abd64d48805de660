// `changecast schemas plan|apply`: compare the event schemas with the registry per subject; register.
import { loadPipelineConfig } from "../config/pipeline-config.js";
import { ConfigError } from "../config/yaml-source.js";
import { applySchemas, formatPlan, planSchemas } from "../schemas/schema-plan.js";
import { openStateStore } from "../state/store.js";
import { desiredSubjects, loadTransforms, openRegistry } from "../worker/pipeline-setup.js";
import type { CommandIO } from "./io.js";

export async function schemasCommand(
  action: "plan" | "apply",
  opts: { config: string },
  io: CommandIO,
): Promise<number> {
  const config = loadPipelineConfig(opts.config);
  const { transforms, problems } = loadTransforms(config);
  if (problems.length) throw new ConfigError(problems);
  const store = await openStateStore(config.state, config.baseDir);
  try {
    const registry = await openRegistry(config, store);
    const desired = desiredSubjects(config, transforms).map(({ subject, schema, origin }) => ({
      subject,
      schema,
      origin,
    }));
    const plan = await planSchemas(registry, desired, config.registry.compatibility);
    io.out(formatPlan(plan));
    const incompatible = plan.filter((e) => e.status === "incompatible").length;
    if (action === "apply") {
      const applied = await applySchemas(registry, plan, desired);
      io.out(`registered ${applied.length} schema${applied.length === 1 ? "" : "s"}`);
    }
    await registry.close?.();
    return incompatible ? 1 : 0;
  } finally {
    await store.close();
  }
}
