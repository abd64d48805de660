// `changecast run`: the worker. Embedded mode without kafka.brokers (docs/architecture.md); with brokers, the same processor
// and worker loop over the Kafka transport (consumer group changecast.<pipeline>, docs/kafka.md).
import { destination, pino, type Logger } from "pino";
import { envText } from "../config/env.js";
import type { PipelineConfig } from "../config/pipeline-config.js";
import { EmbeddedTransport } from "../embedded/embedded-transport.js";
import { openKafkaTransport } from "../kafka/open-transport.js";
import { OffsetStore } from "../state/offsets.js";
import type { TransformSet } from "../map/mapper.js";
import type { RunStats } from "../worker/run-stats.js";
import { runWorker } from "../worker/worker.js";
import { DEAD_LETTERS_EXIT_CODE, type CommandIO } from "./io.js";
import { openPipeline, type OpenPipeline } from "./pipeline.js";
import { runWorkers, workersProblem } from "./workers.js";
import { Progress, type ProgressOptions } from "./progress.js";

/** Records per worker batch in Kafka mode: a kafkajs fetch batch is cut into slices of this size. */
export const KAFKA_BATCH_SIZE = 2_000;

export async function runCommand(
  opts: { config: string; batchSize?: number; failOnDeadLetters?: boolean; workers?: number },
  io: CommandIO,
  options: { progress?: ProgressOptions } = {},
): Promise<number> {
  if (opts.workers !== undefined) {
    const problem = workersProblem(opts.config, opts.workers);
    if (problem) {
      io.err(`changecast: ${problem}`);
      return 2;
    }
    if (opts.workers > 1) return runWorkers(opts.workers, io);
  }
  // one writer per state store (docs/operations.md): workers of one Kafka consumer group share a Postgres
  // state; an embedded run reads every source file and appends to the output files, so it runs alone
  const pipeline = await openPipeline(opts.config, {
    lock: { mode: (c) => (c.kafka.brokers.length > 0 ? "shared" : "exclusive"), command: "run" },
    // embedded mode: an AvroConverter capture brings its writer schemas as schema lines
    offlineSchemas: true,
  });
  const controller = new AbortController();
  const stopOnSignals = stopWhenAsked(pipeline, io, controller);
  const run = { signal: controller.signal, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}) };
  try {
    const stats =
      pipeline.config.kafka.brokers.length > 0
        ? await runKafkaWorker(pipeline, run)
        : await runEmbeddedWorker(pipeline, io, run, options.progress);
    io.out(stats.summary());
    return runExitCode(pipeline, stats, opts.failOnDeadLetters);
  } finally {
    stopOnSignals.off();
    await pipeline.close();
  }
}

/** Stop after the current batch on SIGTERM, SIGINT or a lost lock; `off` removes the signal handlers. */
function stopWhenAsked(
  pipeline: OpenPipeline,
  io: CommandIO,
  controller: AbortController,
): { off: () => void } {
  pipeline.lock?.lost.addEventListener("abort", () => {
    io.err(`changecast: ${(pipeline.lock?.lost.reason as Error).message}; stopping after the current batch`);
    controller.abort();
  });
  const stop = () => {
    io.err(`changecast: stopping after the current batch`);
    controller.abort();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return {
    off: () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
    },
  };
}

/** A lost lock exits non-zero so that a supervisor restarts the worker, which then takes the lock again. */
function runExitCode(
  pipeline: OpenPipeline,
  stats: RunStats,
  failOnDeadLetters: boolean | undefined,
): number {
  return pipeline.lock?.lost.aborted
    ? 2
    : !stats.balanced
      ? 1
      : failOnDeadLetters && stats.deadLetters > 0
        ? DEAD_LETTERS_EXIT_CODE
        : 0;
}

/** Embedded mode: the source files through the worker into the output files, progress on stderr. */
async function runEmbeddedWorker(
  pipeline: OpenPipeline,
  io: CommandIO,
  run: { signal: AbortSignal; batchSize?: number },
  progressOptions: ProgressOptions | undefined,
): Promise<RunStats> {
  const { config } = pipeline;
  const offsets = await OffsetStore.open(pipeline.store.knex, config.pipeline);
  const transport = await EmbeddedTransport.open({
    files: config.source.files,
    baseDir: config.baseDir,
    outputDir: config.outputDir,
    offsets,
    schemas: pipeline.offlineSchemas,
    maxRecordBytes: config.limits.maxRecordBytes,
  });
  io.err(
    `changecast: pipeline ${config.pipeline} (embedded: ${config.source.files.length} source files → ${config.outputDir})`,
  );
  // embedded runs end: their progress goes to stderr (a Kafka worker runs for good and logs instead)
  const progress = new Progress((line) => io.err(line), progressOptions);
  const counts = { records: 0, deadLetters: 0 };
  const stats = await runWorker({
    transport: {
      poll: async (max) => {
        progress.update(counts);
        const batch = await transport.poll(max);
        counts.records += batch?.records.length ?? 0;
        return batch;
      },
      deliver: (consumed, outputs) => transport.deliver(consumed, outputs),
      close: () => transport.close(),
      skippedLines: () => transport.skippedLines?.() ?? 0,
    },
    processor: pipeline.processor,
    tolerance: config.errors.tolerance,
    ...(run.batchSize ? { batchSize: run.batchSize } : {}),
    signal: run.signal,
    onDeadLetter: (m) => {
      counts.deadLetters++;
      io.err(m);
    },
  });
  await transport.close();
  return stats;
}

/** The Debezium topics of the configured transforms: table S.T is read from <source.topicPrefix>.S.T. */
export function sourceTopics(config: PipelineConfig, transforms: TransformSet): string[] {
  return transforms.tables.map((table) => `${config.source.topicPrefix}.${table}`).sort();
}

export interface KafkaWorkerOptions {
  /** abort to stop: the current batch is finished and committed, then the worker leaves the group */
  signal: AbortSignal;
  batchSize?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** Runs the worker loop over the Kafka transport until the signal aborts (or a fatal error). */
export async function runKafkaWorker(pipeline: OpenPipeline, options: KafkaWorkerOptions): Promise<RunStats> {
  const { config } = pipeline;
  const env = options.env ?? process.env;
  const log =
    options.logger ??
    pino(
      {
        name: "changecast",
        level: envText(env, "LOG_LEVEL") ?? "info",
        base: { pipeline: config.pipeline, pid: process.pid },
      },
      destination(2),
    );
  const topics = sourceTopics(config, pipeline.transforms);
  const transport = await openKafkaTransport({
    config,
    topics,
    env,
    signal: options.signal,
    log: (level, message, fields) => log[level](fields, message),
  });
  log.info(
    {
      group: transport.groupId,
      topics,
      delivery: config.delivery,
      client: config.kafka.client,
      brokers: config.kafka.brokers,
    },
    `changecast: pipeline ${config.pipeline} consuming ${topics.length} topics as ${transport.groupId} (${config.delivery}, ${config.kafka.client})`,
  );
  try {
    const stats = await runWorker({
      transport,
      processor: pipeline.processor,
      tolerance: config.errors.tolerance,
      batchSize: options.batchSize ?? KAFKA_BATCH_SIZE,
      signal: options.signal,
      onDeadLetter: (m) => log.warn(m),
    });
    log.info({ ...transport.stats }, "changecast: stopped, leaving the group");
    return stats;
  } finally {
    await transport.close();
  }
}
