// The worker loop: poll a batch, process each record, deliver outputs and commit. Transport-agnostic.
import type { SourceRecord } from "../decode/change-event.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { ChangeTransport } from "../publish/transport.js";
import type { RecordProcessor } from "./record-processor.js";
import type { WorkerObserver } from "./observer.js";
import { RunStats } from "./run-stats.js";
import { heldDeadLetter, heldRecords } from "./held-changes.js";
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

/**
 * Delivers a batch with its state writes between publishing and committing (docs/state.md); a delivery given up
 * before the state was written (a rebalance) undoes the batch's in-memory state, as its records come again.
 */
async function deliverBatch(
  transport: ChangeTransport,
  processor: RecordProcessor,
  consumed: SourceRecord[],
  outputs: PublishedRecord[],
): Promise<void> {
  // no state to write: the transport may acknowledge and commit the batch while the next one is mapped
  if (!processor.keepsBatchState) return transport.deliver(consumed, outputs);
  let written = false;
  try {
    await transport.deliver(consumed, outputs, async () => {
      await processor.beforeCommit(consumed);
      written = true;
    });
  } finally {
    if (!written) processor.abandon();
  }
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
    // held changes prepare made go (a parent that came through another worker, timeouts by the clock)
    for (const held of processor.takeHeldOutcomes()) {
      stats.countHeld(held);
      outputs.push(...heldRecords(held));
    }
    for (const record of batch.records) {
      const outcome = processor.process(record);
      if (outcome.kind === "dead-letter") {
        const where = `${record.topic}[${record.partition}]@${record.offset}`;
        if (options.tolerance === "none") {
          await deliverBatch(transport, processor, consumed, outputs);
          throw new StoppedOnErrorError(
            `stopped at ${where} (errors.tolerance=none), nothing committed past it: ${outcome.stage}: ${outcome.error.message}`,
          );
        }
        options.onDeadLetter?.(`dead letter ${where}: ${outcome.stage}: ${outcome.error.message}`);
        outputs.push(outcome.record);
      } else if (outcome.kind === "events") {
        outputs.push(...outcome.records);
      }
      // records the stateful features made for other records (released children, completed aggregates)
      const extra = processor.takeExtraOutputs();
      if (extra.length) outputs.push(...extra);
      stats.count(outcome);
      options.observer?.outcome?.(outcome, record);
      consumed.push(record);
      // parked changes released or timed out, transaction aggregates completed (docs/state.md)
      for (const held of processor.takeHeldOutcomes()) {
        stats.countHeld(held);
        options.observer?.held?.(held);
        const dead = heldDeadLetter(held);
        if (dead) options.onDeadLetter?.(`dead letter (held change): ${dead.stage}: ${dead.error.message}`);
        outputs.push(...heldRecords(held));
      }
    }
    await deliverBatch(transport, processor, consumed, outputs);
    options.observer?.batchDelivered?.(consumed, outputs);
  }
  stats.skippedLines += transport.skippedLines?.() ?? 0;
  // parked changes and incomplete transactions wait for the next run (docs/state.md)
  stats.stillHeld = processor.heldNow();
  return stats;
}
