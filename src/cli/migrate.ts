// The `changecast migrate` command group (registered by src/cli/main.ts).
import { type Command, InvalidArgumentError } from "commander";
import { processIO } from "./io.js";
import { commandLogger } from "./log.js";
import type { MigrateAction, MigrateOptions } from "../migrate/commands.js";

const DESCRIPTIONS: Record<MigrateAction, string> = {
  plan: "show the incompatibilities between the majors, the new topic and subject, the consumer groups",
  start: "publish both majors for every change from now on",
  backfill:
    "re-derive the new major's history (embedded: source.files; Kafka: the source topics), deduplicated by ce_id; runs alone (refused while workers run)",
  status: "per consumer group: position and lag on the old and the new topic, switched or not",
  cutover:
    "readiness check: every fact of the event on the old topic is on the new one (by ce_id), every registered group switched (exit 1 if not)",
  finish: "stop publishing the old major (its topic stays)",
  abort: "stop publishing the new major (the old one is untouched)",
  switch:
    "move a stopped consumer group to exact offsets on the new topic (on a shared old topic it keeps reading the other event types there)",
  "register-consumer": "register a consumer group of the event (status and cutover account for it)",
};

const major = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("not a major version");
  return n;
};

export function registerMigrateCommands(program: Command, finish: (code: number) => void): void {
  const migrate = program
    .command("migrate")
    .description("the dual-publish migrator for incompatible schema changes");
  for (const action of Object.keys(DESCRIPTIONS) as MigrateAction[]) {
    const cmd = migrate
      .command(action)
      .description(DESCRIPTIONS[action])
      .option("-c, --config <file>", "pipeline config", "changecast.yaml")
      .requiredOption("-e, --event <name>", "the event (its name in the transform files)")
      .option("--to <major>", "the target major (default: the next declared one)", major);
    if (action === "switch" || action === "register-consumer")
      cmd.requiredOption("-g, --group <group>", "consumer group id");
    if (action === "switch")
      cmd.option("--filter-file <file>", "write the switch filter's skip set (JSON) for consumers");
    if (action === "switch" || action === "finish" || action === "abort")
      cmd.option("--force", "skip the safety check");
    if (action === "backfill")
      cmd.option("--from <position>", "only changes at or after this changecast_position");
    if (action === "cutover")
      cmd.option("--skip-backfill", "accept that history before the start stays on the old topic only");
    cmd.action(async (o: MigrateOptions) => {
      // the step's outcome as a log entry too (a backfill run as a Kubernetes Job is read from its logs)
      const log = commandLogger(o.config, { command: `migrate ${action}`, event: o.event });
      const started = performance.now();
      // loaded by the migrate commands only (kafkajs …)
      const { migrateCommand } = await import("../migrate/commands.js");
      const code = await migrateCommand(action, o, processIO);
      const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      log.info({ exitCode: code, seconds }, `changecast migrate ${action}: exit ${code}`);
      finish(code);
    });
  }
}
