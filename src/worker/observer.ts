// What the worker loop tells an observer (metrics, liveness) as it goes: every polled batch, every record's
// outcome (the same outcomes RunStats counts) and every delivered batch. All hooks are optional and synchronous;
// the loop never waits for an observer.
import type { SourceRecord } from "../decode/change-event.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { Outcome } from "./record-processor.js";
import type { HeldOutcome } from "./held-changes.js";

export interface WorkerObserver {
  /** a batch came out of the transport: its records are pending until `batchDelivered` */
  batchPolled?(records: readonly SourceRecord[]): void;
  /** one record's outcome, counted as RunStats counts it */
  outcome?(outcome: Outcome, record: SourceRecord): void;
  /** a held change released or timed out, a transaction aggregate evaluated (counted as RunStats.countHeld) */
  held?(held: HeldOutcome): void;
  /** the batch's outputs are durable and its source positions committed */
  batchDelivered?(consumed: readonly SourceRecord[], outputs: readonly PublishedRecord[]): void;
}
