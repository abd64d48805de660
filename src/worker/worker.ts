// The worker loop: poll a batch, process each record, deliver outputs and commit. Transport-agnostic.
import type { SourceRecord } from "../decode/change-event.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { ChangeTransport } from "../publish/transport.js";
import type { RecordProcessor } from "./record-processor.js";
import type { WorkerObserver } from "./observer.js";
import { RunStats } from "./run-stats.js";
import { ChangecastError } from "../errors.js";

export interface WorkerOptions {
  transport: ChangeTransport;
  processor: RecordProcessor;
  tolerance: "all" | "none";
  batchSize?: number;
  /** set to stop after the current batch (SIGTERM) */
  signal?: AbortSignal;
  onDeadLetter?: (message: string) => void;
  /** metrics and liveness (worker/observer.ts) */
  observer?: WorkerObserver;
}

/** Raised with errors.tolerance=none: the run stopped before committing past a bad record. */
export class StoppedOnErrorError extends ChangecastError {
  readonly code = "WORKER_STOPPED";
  override readonly name = "StoppedOnErrorError";
}

export async function runWorker(options: WorkerOptions): Promise<RunStats> {
  const { transport, processor } = options;
  const stats = new RunStats();
  const batchSize = options.batchSize ?? 500;
  while (!options.signal?.aborted) {
    const batch = await transport.poll(batchSize);
    if (!batch) break;
    options.observer?.batchPolled?.(batch.records);
    await processor.prepare(batch.records);
    const consumed: SourceRecord[] = [];
    const outputs: PublishedRecord[] = [];
    for (const record of batch.records) {
      const outcome = processor.process(record);
      if (outcome.kind === "dead-letter") {
        const where = `${record.topic}[${record.partition}]@${record.offset}`;
        if (options.tolerance === "none") {
          await transport.deliver(consumed, outputs);
          throw new StoppedOnErrorError(
            `stopped at ${where} (errors.tolerance=none), nothing committed past it: ${outcome.stage}: ${outcome.error.message}`,
          );
        }
        options.onDeadLetter?.(`dead letter ${where}: ${outcome.stage}: ${outcome.error.message}`);
        outputs.push(outcome.record);
      } else if (outcome.kind === "events") {
        outputs.push(...outcome.records);
      }
      stats.count(outcome);
      options.observer?.outcome?.(outcome, record);
      consumed.push(record);
    }
    await transport.deliver(consumed, outputs);
    options.observer?.batchDelivered?.(consumed, outputs);
  }
  stats.skippedLines += transport.skippedLines?.() ?? 0;
  return stats;
}
