// The `changecast` command line (README.md, "Commands").
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { envValue, secretEnvValues } from "../config/env.js";
import { redactText } from "../config/redact.js";
import { ConfigError } from "../config/yaml-source.js";
import { processIO } from "./io.js";
import { registerMigrateCommands } from "./migrate.js";
import { checkSinkFile, defaultSinkFile, registerSinkCommands } from "./sink.js";
// each command's module is imported when the command runs: a command loads only what it uses (replay starts
// without kafkajs, fastify, prom-client …)

// `replay … | head`: once the reader is gone there is nobody left to tell, so stop quietly (no EPIPE trace)
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    process.exit(process.exitCode ?? 0);
  });
}

/** The package's version: package.json is two levels up from src/cli/ and from dist/cli/ alike. */
function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

// kafkajs 2.2.4 (its last release) schedules its throttle check with a negative delay when nothing is pending;
// Node clamps it to 1 ms, but Node 24 prints a TimeoutNegativeWarning for every such call. That warning alone is
// dropped; every other process warning is printed as Node prints it.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  if (warning.name === "TimeoutNegativeWarning") return;
  process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
});

const program = new Command();
program
  .name("changecast")
  .description("Debezium change streams → versioned Avro business events")
  .version(packageVersion(), "-V, --version", "print the version")
  // usage errors (unknown option, missing argument) exit 2, like invalid input; inherited by every command
  .exitOverride()
  .showHelpAfterError();

const failOnDeadLettersOption = [
  "--fail-on-dead-letters",
  "exit 3 when any record was dead-lettered (for CI)",
] as const;

const configOption = ["-c, --config <file>", "pipeline config", "changecast.yaml"] as const;
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("not a port number");
  return n;
};

let exitCode = 0;
const finish = (code: number) => {
  exitCode = code;
};

program
  .command("run")
  .description("run the worker (embedded mode without kafka.brokers)")
  .option(...configOption)
  .option("--batch-size <n>", "records per batch", (v) => Number(v))
  .option(...failOnDeadLettersOption)
  .option("--workers <n>", "Kafka mode: N worker processes in the consumer group (docs/kafka.md)", (v) =>
    Number(v),
  )
  .action(async (o: { config: string; batchSize?: number; failOnDeadLetters?: boolean; workers?: number }) =>
    finish(await (await import("./run.js")).runCommand(o, processIO)),
  );

program
  .command("check")
  .description("validate config, transforms, schemas and expressions")
  .option(...configOption)
  .option("--sink <file>", "also validate a sink file (docs/sink.md)")
  .action(async (o: { config: string; sink?: string }) => {
    const code = (await import("./check.js")).checkCommand(o, processIO);
    // the sink file given, or the default one beside the pipeline file
    const sink = o.sink ?? defaultSinkFile(o.config);
    finish(sink ? Math.max(code, checkSinkFile(sink, processIO) ? 1 : 0) : code);
  });

program
  .command("replay")
  .description("map Debezium records offline and print the resulting records")
  .option(...configOption)
  .option("-i, --input <file>", "kcat -J lines or Debezium values, - for stdin", "-")
  .option("-t, --topic <topic>", "topic of input lines that are bare Debezium values")
  .option(...failOnDeadLettersOption)
  .action(async (o: { config: string; input: string; topic?: string; failOnDeadLetters?: boolean }) =>
    finish(await (await import("./replay.js")).replayCommand(o, processIO)),
  );

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("not a positive integer");
  return n;
};
program
  .command("capture")
  .description("copy live source topics to a capture file that replay and embedded run read offline")
  .option(...configOption)
  .option(
    "-t, --topic <topic>",
    "topic to capture, repeatable (default: the pipeline's source topics)",
    (v: string, all: string[] | undefined) => [...(all ?? []), v],
  )
  .requiredOption("-o, --output <file>", "capture file to write, - for stdout")
  .option("--from-beginning", "read each partition from its first offset (the default without --max)")
  .option(
    "--max <n>",
    "at most n records per partition (without --from-beginning: the last n offsets)",
    count,
  )
  .option("--idle-timeout <seconds>", "give up when nothing arrives for this long", count, 60)
  .action(
    async (o: {
      config: string;
      topic?: string[];
      output: string;
      fromBeginning?: boolean;
      max?: number;
      idleTimeout: number;
    }) =>
      finish(
        await (
          await import("./capture.js")
        ).captureCommand(
          {
            config: o.config,
            topics: o.topic ?? [],
            output: o.output,
            ...(o.fromBeginning ? { fromBeginning: true } : {}),
            ...(o.max !== undefined ? { max: o.max } : {}),
            idleTimeoutMs: o.idleTimeout * 1000,
          },
          processIO,
        ),
      ),
  );

const schemas = program.command("schemas").description("event schemas and the registry");
schemas
  .command("compat")
  .description("offline compatibility check: exit 0 compatible, 1 incompatible, 2 invalid input")
  .requiredOption(
    "-l, --level <level>",
    "NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE",
  )
  .argument("<new>", "the new schema (.avsc)")
  .argument("[previous...]", "previous schemas, oldest first")
  .action(async (newFile: string, previousFiles: string[], o: { level: string }) =>
    finish(
      await (
        await import("./schemas-compat.js")
      ).runSchemasCompat(
        { level: o.level, newFile, previousFiles },
        { write: (s) => process.stdout.write(s) },
        { write: (s) => process.stderr.write(s) },
      ),
    ),
  );
for (const action of ["plan", "apply"] as const) {
  schemas
    .command(action)
    .description(
      action === "plan"
        ? "compare schemas/ with the registry per subject (exit 1 if any is incompatible)"
        : "register the schemas that are new or compatible",
    )
    .option(...configOption)
    .action(async (o: { config: string }) =>
      finish(await (await import("./schemas.js")).schemasCommand(action, o, processIO)),
    );
}

registerMigrateCommands(program, finish);
registerSinkCommands(program, finish);

const registry = program.command("registry").description("the embedded Confluent-compatible Schema Registry");
registry
  .command("serve")
  .description("serve the embedded registry over HTTP")
  .option("-p, --port <port>", "port", port, 8081)
  .option("--host <host>", "address to bind", "127.0.0.1")
  .option("--state <url>", "state store URL (default: $STATE_URL, else sqlite:.changecast/state.sqlite)")
  .action(async (o: { port: number; host: string; state?: string }) => {
    const state = o.state ?? envValue(process.env, "STATE_URL") ?? "sqlite:.changecast/state.sqlite";
    const { runRegistryServe } = await import("./registry-serve.js");
    const server = await runRegistryServe({
      port: o.port,
      host: o.host,
      stateUrl: state,
      baseDir: resolve("."),
    });
    processIO.err(`changecast registry listening on ${server.url}`);
    await new Promise<void>((done) => {
      const stop = () => void server.close().then(done);
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
  });

const connectors = program.command("connectors").description("Debezium connector configs in Kafka Connect");
for (const action of ["apply", "status"] as const) {
  connectors
    .command(action)
    .description(
      action === "apply"
        ? "create or update the connectors from connectors/"
        : "report connector and task states",
    )
    .option("-d, --dir <dir>", "connector configs", "connectors")
    // no default value here: commander would print $KAFKA_CONNECT_URL, credentials included, in --help
    .option(
      "--connect-url <url>",
      "Kafka Connect REST URL (default: $KAFKA_CONNECT_URL, else http://localhost:8083)",
    )
    .action(async (o: { dir: string; connectUrl?: string }) =>
      finish(await (await import("./connectors.js")).connectorsCommand(action, o, processIO)),
    );
}

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (err) {
  if (err instanceof CommanderError) {
    // commander printed the message (or the help, or the version) already
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof ConfigError) {
    processIO.err(err.message);
    process.exitCode = 1;
  } else {
    // last line of defence: a library's error may quote a URL with its credentials
    processIO.err(`changecast: ${redactText((err as Error).message, secretEnvValues(process.env))}`);
    process.exitCode = 2;
  }
}
