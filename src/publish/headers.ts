// The headers of a published event (docs/records.md): CloudEvents binary mode (ce_*), the content type and
// changecast_position, built once per source record for all the events it maps to.
import type { ChangeEvent } from "../decode/change-event.js";
import { errorCode } from "../errors.js";
import { eventId, formatPosition } from "./event-id.js";
import { DLQ_HEADERS } from "./output-record.js";

/** `changecast/<pipeline>/<table>`, the ce_source of a table, made once per table. */
export class CeSources {
  private readonly sources = new Map<string, string>();
  constructor(private readonly pipeline: string) {}

  of(table: string): string {
    let source = this.sources.get(table);
    if (source === undefined) {
      source = `changecast/${this.pipeline}/${table}`;
      if (this.sources.size >= 4096) this.sources.clear();
      this.sources.set(table, source);
    }
    return source;
  }
}

/**
 * The headers of the events of one change: what they share (position, ce_source, ce_time) is worked out when
 * the first event asks for its headers, and once.
 */
export class ChangeHeaders {
  private position: string | undefined;
  private source: string | undefined;
  private time: string | undefined;
  constructor(
    private readonly change: ChangeEvent,
    private readonly sources: CeSources,
  ) {}

  /** The headers of the event `eventName` whose Avro record is `type`. */
  forEvent(eventName: string, type: string): Record<string, string> {
    const change = this.change;
    const position = (this.position ??= formatPosition(change.position));
    return {
      ce_specversion: "1.0",
      ce_id: eventId(change, eventName, position),
      ce_type: type,
      ce_source: (this.source ??= this.sources.of(change.table)),
      ce_time: (this.time ??= new Date(change.commitTimeMs).toISOString()),
      "content-type": "application/avro",
      changecast_position: position,
    };
  }
}

/** The bytes `headers` take in a Kafka record (names, values and framing). */
export function headerBytes(headers: Record<string, string>): number {
  let n = 0;
  for (const name of Object.keys(headers)) {
    n += Buffer.byteLength(name) + Buffer.byteLength(headers[name] ?? "") + 8;
  }
  return n;
}

/** Where a dead letter's record came from and why it failed: Kafka Connect's error headers plus changecast's code. */
export function deadLetterErrorHeaders(
  source: { topic: string; partition: number; offset: string },
  stage: string,
  error: Error,
): Record<string, string> {
  return {
    [DLQ_HEADERS.topic]: source.topic,
    [DLQ_HEADERS.partition]: String(source.partition),
    [DLQ_HEADERS.offset]: source.offset,
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.className]: `changecast.${error.name}`,
    [DLQ_HEADERS.code]: errorCode(error),
    [DLQ_HEADERS.message]: error.message,
  };
}
