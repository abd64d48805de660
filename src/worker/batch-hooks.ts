// What the stateful features (table state, dependencies, aggregates) plug into the per-batch path of the
// RecordProcessor (docs/state.md):
//   prepare      — before the batch's records are processed: load from the store what the batch needs
//   (process)    — synchronous, in memory; outputs made for other records are handed over by takeOutputs
//   beforeCommit — after the batch's outputs are durable (published), before its source offsets are committed
//                  (exactly-once: inside the transaction, before it commits): write the batch's state
//   abandon      — the batch was not committed (delivery given up, e.g. a rebalance): undo its in-memory effects
import type { ChangeEvent, SourceRecord } from "../decode/change-event.js";
import type { PublishedRecord } from "../publish/output-record.js";

/** A batch about to be processed: its records, and the changes decoded from them (records that decode). */
export interface PreparedBatch {
  records: readonly SourceRecord[];
  changes: ReadonlyMap<SourceRecord, ChangeEvent>;
}

export interface BatchHook {
  prepare?(batch: PreparedBatch): Promise<void>;
  /** records to publish with the current batch that no source record of it yields itself (released, completed) */
  takeOutputs?(): PublishedRecord[];
  beforeCommit?(consumed: readonly SourceRecord[]): Promise<void>;
  abandon?(): void;
}
