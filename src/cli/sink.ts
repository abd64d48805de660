// `changecast sink`: published events → rows of a SQL database (docs/sink.md); `changecast sink switch` moves the
// sink to a new major of an event (docs/migration.md).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { formatProblem } from "../config/yaml-source.js";
import { loadSinkConfig, readSinkConfig } from "../sink/sink-config.js";
import { SinkStats } from "../sink/stats.js";
import { SinkStoppedError } from "../sink/errors.js";
import { processIO, type CommandIO } from "./io.js";

export const DEFAULT_SINK_FILE = "changecast.sink.yaml";

/** `changecast.sink.yaml` beside the pipeline file, when there is one (`check` validates it too). */
export function defaultSinkFile(pipelineFile: string): string | undefined {
  const file = join(dirname(resolve(pipelineFile)), DEFAULT_SINK_FILE);
  return existsSync(file) ? file : undefined;
}

export async function sinkCommand(
  opts: { config: string; follow?: boolean; idleExit?: number },
  io: CommandIO,
  stats = new SinkStats(),
): Promise<number> {
  // loaded by the sink commands only: the other commands start without kafkajs, prom-client …
  const [{ runKafkaSink }, { openSink, runEmbeddedSink }, { openSinkOps }] = await Promise.all([
    import("../sink/kafka-sink.js"),
    import("../sink/sink.js"),
    import("./ops.js"),
  ]);
  const config = await loadSinkConfig(opts.config);
  const ctx = await openSink(config, stats);
  const ops = await openSinkOps(config.pipeline, config.sink, stats, process.env);
  if (ops) io.err(`changecast sink: serving /metrics, /healthz and /readyz on ${ops.url}`);
  const controller = new AbortController();
  const stop = () => {
    io.err("changecast sink: stopping after the current batch");
    controller.abort();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const kafka = config.pipeline.kafka.brokers.length > 0;
  io.err(
    `changecast sink: ${config.sink} (${kafka ? `Kafka group ${config.group}` : "embedded"}: ${ctx.topics.join(", ")} → ${ctx.target.location})`,
  );
  try {
    const run = {
      config,
      io,
      signal: controller.signal,
      stats,
      follow: opts.follow,
      ...(opts.idleExit ? { idleExitMs: opts.idleExit * 1000 } : {}),
    };
    try {
      if (kafka) await runKafkaSink(ctx, run);
      else await runEmbeddedSink(ctx, run);
    } catch (err) {
      if (!(err instanceof SinkStoppedError)) throw err;
      for (const line of stats.summary()) io.out(line);
      io.err(`changecast sink: ${err.message}`);
      return 1;
    }
    for (const line of stats.summary()) io.out(line);
    for (const table of config.tables.keys()) {
      const row = (await ctx.target.knex(table).count({ n: "*" }).first()) as
        { n: number | string } | undefined;
      io.out(`table ${table}: ${Number(row?.n ?? 0)} rows`);
    }
    return 0;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    await ops?.close();
    await ctx.close();
  }
}

/** `changecast check --sink FILE`: the sink file's problems, `file:line: message`. */
export function checkSinkFile(file: string, io: CommandIO): number {
  const { config, problems } = readSinkConfig(file);
  for (const p of problems) io.err(formatProblem(p));
  if (!config || problems.length) {
    io.err(`${problems.length} problem${problems.length === 1 ? "" : "s"} in ${file}`);
    return 1;
  }
  io.out(`ok: sink ${config.sink}, ${config.projections.length} projections, ${config.tables.size} tables`);
  return 0;
}

export function registerSinkCommands(program: Command, finish: (code: number) => void): void {
  const sink = program
    .command("sink")
    .description("project published events into SQL tables (Postgres, SQLite), exactly once (docs/sink.md)")
    .option("-c, --config <file>", "sink file", DEFAULT_SINK_FILE)
    .option("--follow", "embedded mode: keep reading new output instead of stopping at its end")
    .option("--idle-exit <seconds>", "Kafka mode: stop after this many seconds without a record", (v) =>
      Number(v),
    )
    .action(async (o: { config: string; follow?: boolean; idleExit?: number }) =>
      finish(await sinkCommand(o, processIO)),
    );
  sink
    .command("switch")
    .description(
      "move the stopped sink to the new major of an event (the migrator's switch-over, from its applied positions)",
    )
    .requiredOption("-e, --event <name>", "the event (its name in the transform files)")
    // --config is the parent's option (`changecast sink switch --config FILE` parses it there)
    .action(async (o: { event: string }, cmd: Command) =>
      finish(
        await (
          await import("../sink/switch.js")
        ).sinkSwitch({ ...o, config: (cmd.optsWithGlobals() as { config: string }).config }, processIO),
      ),
    );
}
