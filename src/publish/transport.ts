// The transport port: where source records come from and where published records go. Two adapters:
// embedded (kcat files in, JSON lines out, offsets in the state store) and Kafka.
import type { SourceRecord } from "../decode/change-event.js";
import type { PublishedRecord } from "./output-record.js";

export interface ConsumedBatch {
  /** the source records of this batch, in consumption order */
  records: SourceRecord[];
}

export interface ChangeTransport {
  /** The next batch, or null when the input is exhausted (embedded) or the worker is stopping. */
  poll(maxRecords: number): Promise<ConsumedBatch | null>;
  /**
   * Makes `outputs` durable, then commits the source positions of `consumed` (a prefix of the last polled
   * batch, or all of it). Exactly-once transports do both atomically. `beforeCommit` (the batch's state writes,
   * docs/state.md) runs once the outputs are durable (exactly-once: sent in the open transaction) and before
   * the positions are committed; a delivery given up before it ran does not run it.
   */
  deliver(
    consumed: SourceRecord[],
    outputs: PublishedRecord[],
    beforeCommit?: () => Promise<void>,
  ): Promise<void>;
  close(): Promise<void>;
  /** Line-based transports: input lines skipped so far because they hold no record (blank lines). */
  skippedLines?(): number;
}
