// `changecast run`: the worker. Embedded mode without kafka.brokers (docs/architecture.md); with brokers, the same processor
// and worker loop over the Kafka transport (consumer group changecast.<pipeline>, docs/kafka.md).
import { hostname } from "node:os";
import { loadPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { kafkaClientConfig } from "../kafka/kafka-client.js";
import { EmbeddedTransport } from "../embedded/embedded-transport.js";
import { openKafkaTransport } from "../kafka/open-transport.js";
import { OffsetStore } from "../state/offsets.js";
import type { TransformSet } from "../map/mapper.js";
import type { RunStats } from "../worker/run-stats.js";
import { runWorker } from "../worker/worker.js";
import type { WorkerOps } from "../observe/worker-ops.js";
import { DEAD_LETTERS_EXIT_CODE, type CommandIO } from "./io.js";
import { createLogger, type Logger, type LogStream } from "./log.js";
import { openWorkerOps } from "./ops.js";
import { openPipeline, type OpenPipeline } from "./pipeline.js";
import { runWorkers, workersProblem } from "./workers.js";
import { Progress, type ProgressOptions } from "./progress.js";
import { bootstrapTableState } from "../worker/table-state-setup.js";
import { readToCurrentEnd } from "../kafka/state-bootstrap.js";
import type { SourceRecord } from "../decode/change-event.js";

/** Records per worker batch in Kafka mode: a kafkajs fetch batch is cut into slices of this size. */
export const KAFKA_BATCH_SIZE = 2_000;

export async function runCommand(
  opts: { config: string; batchSize?: number; failOnDeadLetters?: boolean; workers?: number },
  io: CommandIO,
  options: {
    progress?: ProgressOptions;
    /** aborting it stops the run like SIGTERM does (tests) */
    signal?: AbortSignal;
    /** log lines (default: stderr) */
    logStream?: LogStream;
  } = {},
): Promise<number> {
  if (opts.workers !== undefined) {
    const problem = workersProblem(opts.config, opts.workers);
    if (problem) {
      io.err(`changecast: ${problem}`);
      return 2;
    }
    if (opts.workers > 1) return runWorkers(opts.workers, io);
  }
  // the log and the operations endpoint come first: probes answer while start-up (schemas, group join) runs
  const settings = loadPipelineConfig(opts.config);
  const log = createLogger({
    settings: settings.log,
    base: { pipeline: settings.pipeline },
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
  const ops = await openWorkerOps(settings, process.env, log);
  try {
    // one writer per state store (docs/operations.md): workers of one Kafka consumer group share a Postgres
    // state; an embedded run reads every source file and appends to the output files, so it runs alone
    const pipeline = await openPipeline(opts.config, {
      lock: { mode: (c) => (c.kafka.brokers.length > 0 ? "shared" : "exclusive"), command: "run" },
      // embedded mode: an AvroConverter capture brings its writer schemas as schema lines
      offlineSchemas: true,
      ...(ops ? { wrapRegistry: (r) => ops.metrics.instrumentRegistry(r) } : {}),
    });
    const controller = new AbortController();
    const stopOnSignals = stopWhenAsked(pipeline, log, controller, ops, options.signal);
    const run = {
      signal: controller.signal,
      logger: log,
      ...(ops ? { ops } : {}),
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    };
    try {
      const stats =
        pipeline.config.kafka.brokers.length > 0
          ? await runKafkaWorker(pipeline, run)
          : await runEmbeddedWorker(pipeline, io, run, options.progress);
      io.out(stats.summary());
      log.info(
        {
          recordsIn: stats.recordsIn,
          eventsOut: stats.eventsOut,
          filtered: stats.filtered,
          deadLetters: stats.deadLetters,
          balanced: stats.balanced,
          seconds: Number(stats.elapsedSeconds.toFixed(3)),
        },
        "changecast: run finished",
      );
      return runExitCode(pipeline, stats, opts.failOnDeadLetters);
    } finally {
      stopOnSignals.off();
      await pipeline.close();
    }
  } finally {
    await ops?.close();
  }
}

/** Stop after the current batch on SIGTERM, SIGINT or a lost lock; `off` removes the signal handlers. */
function stopWhenAsked(
  pipeline: OpenPipeline,
  log: Logger,
  controller: AbortController,
  ops: WorkerOps | null,
  signal: AbortSignal | undefined,
): { off: () => void } {
  pipeline.lock?.lost.addEventListener("abort", () => {
    ops?.health.markStopping();
    log.error(
      `changecast: ${(pipeline.lock?.lost.reason as Error).message}; stopping after the current batch`,
    );
    controller.abort();
  });
  const stop = () => {
    ops?.health.markStopping();
    log.info(`changecast: stopping after the current batch`);
    controller.abort();
  };
  signal?.addEventListener("abort", stop, { once: true });
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
      : failOnDeadLetters && stats.anyDeadLetters
        ? DEAD_LETTERS_EXIT_CODE
        : 0;
}

/** Embedded mode: the source files through the worker into the output files, progress on stderr. */
async function runEmbeddedWorker(
  pipeline: OpenPipeline,
  io: CommandIO,
  run: { signal: AbortSignal; batchSize?: number; logger: Logger; ops?: WorkerOps },
  progressOptions: ProgressOptions | undefined,
): Promise<RunStats> {
  const log = run.logger;
  const { config } = pipeline;
  const offsets = await OffsetStore.open(pipeline.store.knex, config.pipeline);
  await bootstrapEmbedded(pipeline, offsets, io);
  const transport = await EmbeddedTransport.open({
    files: config.source.files,
    baseDir: config.baseDir,
    outputDir: config.outputDir,
    offsets,
    schemas: pipeline.offlineSchemas,
    maxRecordBytes: config.limits.maxRecordBytes,
  });
  log.info(
    { files: config.source.files.length, outputDir: config.outputDir },
    `changecast: pipeline ${config.pipeline} (embedded: ${config.source.files.length} source files → ${config.outputDir})`,
  );
  run.ops?.health.markBootstrapped();
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
      deliver: (consumed, outputs, beforeCommit) => transport.deliver(consumed, outputs, beforeCommit),
      close: () => transport.close(),
      skippedLines: () => transport.skippedLines?.() ?? 0,
    },
    processor: pipeline.processor,
    tolerance: config.errors.tolerance,
    ...(run.batchSize ? { batchSize: run.batchSize } : {}),
    signal: run.signal,
    onDeadLetter: (m) => {
      counts.deadLetters++;
      log.warn(m);
    },
    ...(run.ops ? { observer: run.ops.observer } : {}),
  });
  await transport.close();
  return stats;
}

/**
 * Embedded bootstrap of the table state (docs/state.md): the source files are read once from their committed
 * positions to their end and the looked-up tables' changes applied to the state, before the worker reads them.
 */
async function bootstrapEmbedded(pipeline: OpenPipeline, offsets: OffsetStore, io: CommandIO): Promise<void> {
  const setup = pipeline.tableState;
  const tables = setup?.bootstrapped ?? [];
  if (!setup || tables.length === 0) return;
  const { config } = pipeline;
  const reader = await EmbeddedTransport.open({
    files: config.source.files,
    baseDir: config.baseDir,
    outputDir: config.outputDir,
    offsets,
    schemas: pipeline.offlineSchemas,
    maxRecordBytes: config.limits.maxRecordBytes,
  });
  try {
    // the topics of the other tables hold none of the looked-up tables' changes: not decoded twice
    const lookedUp = new Set(tables);
    const others = new Set(
      pipeline.transforms.tables
        .filter((t) => !lookedUp.has(t))
        .map((t) => `${config.source.topicPrefix}.${t}`),
    );
    const applied = await bootstrapTableState(setup, pipeline.processor, pollAll(reader), others);
    io.err(`changecast: table state of ${tables.join(", ")} brought up to date (${applied} changes)`);
  } finally {
    await reader.close();
  }
}

async function* pollAll(reader: EmbeddedTransport): AsyncGenerator<SourceRecord[]> {
  for (;;) {
    const batch = await reader.poll(2_000);
    if (!batch) return;
    yield batch.records;
  }
}

/** The Debezium topics of the configured transforms: table S.T is read from <source.topicPrefix>.S.T. */
export function sourceTopics(config: PipelineConfig, transforms: TransformSet): string[] {
  const topics = transforms.tables.map((table) => `${config.source.topicPrefix}.${table}`);
  // transaction aggregates read Debezium's transaction metadata topic too
  if (transforms.aggregates.length && config.source.transactionTopic)
    topics.push(config.source.transactionTopic);
  return topics.sort();
}

export interface KafkaWorkerOptions {
  /** abort to stop: the current batch is finished and committed, then the worker leaves the group */
  signal: AbortSignal;
  batchSize?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** metrics and probes (`ops.port`): fed by the loop and the consumer */
  ops?: WorkerOps;
}

/**
 * Kafka bootstrap of the table state (docs/state.md): the looked-up tables' topics read to their current end
 * (from the offsets the state store has applied) and applied to the state, before the worker joins its group.
 * The parent tables of `requires:` are read too but not applied: their keys are noted as on their way, so that
 * children waiting for them do not time out in source time while the group reads the parents' partitions.
 */
async function bootstrapKafka(pipeline: OpenPipeline, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  const setup = pipeline.tableState;
  if (!setup || setup.lookedUp.length === 0) return;
  const { config } = pipeline;
  const topics = setup.lookedUp.map((table) => `${config.source.topicPrefix}.${table}`);
  const held = pipeline.held;
  const parents = setup.lookedUp.filter((t) => !setup.bootstrapped.includes(t));
  const records = readToCurrentEnd({
    client: kafkaClientConfig({
      brokers: config.kafka.brokers,
      clientId: `${config.kafka.clientId}-bootstrap-${hostname()}-${process.pid}`,
      env,
      log: (level, message, fields) => log[level](fields, message),
    }),
    pipeline: config.pipeline,
    topics,
    applied: await setup.runtime.appliedOffsets(topics),
  });
  const applied = await bootstrapTableState(
    setup,
    pipeline.processor,
    records,
    new Set(),
    held ? { tables: parents, note: (table, pk) => held.dependencies.expectParent(table, pk) } : undefined,
  );
  log.info({ topics, applied }, "changecast: table state of the looked-up tables brought up to date");
}

/** Runs the worker loop over the Kafka transport until the signal aborts (or a fatal error). */
export async function runKafkaWorker(pipeline: OpenPipeline, options: KafkaWorkerOptions): Promise<RunStats> {
  const { config } = pipeline;
  const env = options.env ?? process.env;
  const log =
    options.logger ?? createLogger({ settings: config.log, env, base: { pipeline: config.pipeline } });
  const topics = sourceTopics(config, pipeline.transforms);
  await bootstrapKafka(pipeline, env, log);
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
  if (options.ops) {
    options.ops.watchConsumer(transport);
    options.ops.health.markBootstrapped();
  }
  try {
    const stats = await runWorker({
      transport,
      processor: pipeline.processor,
      tolerance: config.errors.tolerance,
      batchSize: options.batchSize ?? KAFKA_BATCH_SIZE,
      signal: options.signal,
      onDeadLetter: (m) => log.warn(m),
      ...(options.ops ? { observer: options.ops.observer } : {}),
    });
    log.info({ ...transport.stats }, "changecast: stopped, leaving the group");
    return stats;
  } finally {
    await transport.close();
  }
}
