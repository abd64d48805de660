// The sink's order of events per row (docs/sink.md, "Exactly once"). A row keeps the position of the last event
// applied to it; an event at an older position is skipped, and so is one at the same position whose ce_id was
// applied already (the events one source change maps to share its position; their ce_ids differ).
import { parsePosition } from "../publish/event-id.js";

const DIGITS = 20; // 2^64 has 20 decimal digits: LSNs and SCNs fit

/**
 * The `changecast_position` header as text that sorts like comparePositions (publish/event-id.ts): commit,
 * change and order zero-padded, so SQL and JS compare it as a string. Throws on a header that is no position.
 */
export function sortablePosition(header: string): string {
  // parsePosition defaults missing parts to 0: a header without all four is no position at all
  if (header.split(":").length < 4) throw new Error(`"${header}" is not a changecast_position`);
  const p = parsePosition(header);
  const parts = [p.commit, p.change, p.order.toString()].map((n) => {
    if (!/^\d+$/.test(n) || n.length > DIGITS) throw new Error(`"${header}" is not a changecast_position`);
    return n.padStart(DIGITS, "0");
  });
  return parts.join(".");
}

/** What a row records about the events applied to it. */
export interface RowMark {
  /** sortablePosition of the last event applied */
  position: string;
  /** the ce_ids applied at that position (usually one) */
  ids: readonly string[];
}

/** Whether an event at `position` with `ceId` applies to a row marked `mark` (null: no row, no tombstone). */
export function applies(mark: RowMark | null, position: string, ceId: string): boolean {
  if (!mark) return true;
  if (position > mark.position) return true;
  return position === mark.position && !mark.ids.includes(ceId);
}

/** The row's mark after applying the event. */
export function advance(mark: RowMark | null, position: string, ceId: string): RowMark {
  if (mark && mark.position === position) return { position, ids: [...mark.ids, ceId] };
  return { position, ids: [ceId] };
}

/** The `changecast_event_ids` column: ce_ids separated by spaces. */
export function parseIds(text: string | null | undefined): string[] {
  return text ? text.split(" ").filter(Boolean) : [];
}
