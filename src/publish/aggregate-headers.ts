// The headers of a transaction aggregate's events (docs/records.md): ce_id from the pipeline, the event name, the
// transaction and the root row's primary key, so that an aggregate evaluated again (a redelivery) has the same id.
import { hash } from "node:crypto";
import type { ChangeEvent } from "../decode/change-event.js";
import { formatPosition } from "./event-id.js";
import type { CeSources } from "./headers.js";

/** Marks an aggregate evaluated with what arrived before its transaction timed out. */
export const PARTIAL_HEADER = "changecast_partial";

/** ce_id of an aggregate event: a UUID-shaped SHA-256 digest of pipeline, event name, transaction id and root key. */
export function aggregateEventId(pipeline: string, eventName: string, txId: string, rootKey: string): string {
  const hex = hash("sha256", ["aggregate", pipeline, eventName, txId, rootKey].join("\u0000"), "hex");
  const variant = ((parseInt(hex[16] ?? "0", 16) & 3) | 8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class AggregateHeaders {
  constructor(
    private readonly pipeline: string,
    private readonly root: ChangeEvent,
    private readonly txId: string,
    private readonly rootKey: string,
    private readonly partial: boolean,
    private readonly sources: CeSources,
  ) {}

  forEvent(eventName: string, type: string): Record<string, string> {
    return {
      ce_specversion: "1.0",
      ce_id: aggregateEventId(this.pipeline, eventName, this.txId, this.rootKey),
      ce_type: type,
      ce_source: this.sources.of(this.root.table),
      ce_time: new Date(this.root.commitTimeMs).toISOString(),
      "content-type": "application/avro",
      changecast_position: formatPosition(this.root.position),
      ...(this.partial ? { [PARTIAL_HEADER]: "true" } : {}),
    };
  }
}
