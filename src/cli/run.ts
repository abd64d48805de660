// `changecast run`: the worker. Embedded mode without kafka.brokers (SPEC §7).
import { EmbeddedTransport } from "../publish/embedded-transport.js";
import { OffsetStore } from "../state/offsets.js";
import { runWorker } from "../worker/worker.js";
import type { CommandIO } from "./io.js";
import { openPipeline } from "./pipeline.js";

export async function runCommand(opts: { config: string; batchSize?: number }, io: CommandIO): Promise<number> {
  const pipeline = await openPipeline(opts.config);
  const { config } = pipeline;
  const controller = new AbortController();
  const stop = () => {
    io.err(`changecast: stopping after the current batch`);
    controller.abort();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    if (config.kafka.brokers.length > 0) {
      io.err("changecast: Kafka mode is not available in this build; unset kafka.brokers for embedded mode");
      return 2;
    }
    const offsets = await OffsetStore.open(pipeline.store.knex, config.pipeline);
    const transport = await EmbeddedTransport.open({
      files: config.source.files,
      baseDir: config.baseDir,
      outputDir: config.outputDir,
      offsets,
    });
    io.err(`changecast: pipeline ${config.pipeline} (embedded: ${config.source.files.length} source files → ${config.outputDir})`);
    const stats = await runWorker({
      transport,
      processor: pipeline.processor,
      tolerance: config.errors.tolerance,
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
      signal: controller.signal,
      onDeadLetter: (m) => io.err(m),
    });
    await transport.close();
    io.out(stats.summary());
    return stats.balanced ? 0 : 1;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    await pipeline.close();
  }
}
