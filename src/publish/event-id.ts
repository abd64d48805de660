// Identity and position of published facts: deterministic ce_id and the changecast_position header.
import { hash } from "node:crypto";
import type { ChangeEvent, Row, SourcePosition } from "../decode/change-event.js";

/**
 * The position header: `<connector>:<commit>:<change>:<order>[:<detail>]`, all integers in decimal. Ordered by
 * comparePositions; identical across re-deliveries of the same change. Snapshot reads share a position.
 */
export function formatPosition(p: SourcePosition): string {
  const base = `${p.connector}:${p.commit}:${p.change}:${p.order}`;
  return p.detail ? `${base}:${p.detail}` : base;
}

export function parsePosition(text: string): SourcePosition {
  const [connector = "", commit = "0", change = "0", order = "0", ...detail] = text.split(":");
  return { connector, commit, change, order: BigInt(order), detail: detail.join(":"), snapshot: false };
}

/** Commit order first, then log order inside the commit, then the row's order in its transaction. */
export function comparePositions(a: SourcePosition, b: SourcePosition): number {
  return (
    cmp(BigInt(a.commit), BigInt(b.commit)) ||
    cmp(BigInt(a.change), BigInt(b.change)) ||
    cmp(a.order, b.order)
  );
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * ce_id: a UUID-shaped SHA-256 digest of what identifies the fact — table, source position, operation and the
 * event name (not its major version, so both majors of a migration carry the same id). A log position
 * identifies one change; snapshot reads share one position, so for them (and for connectors that report no
 * position) the row identity is added: the record key, or the row itself when the record came without a key.
 * `position` is formatPosition(change.position), for a caller that has it already.
 */
export function eventId(
  change: ChangeEvent,
  eventName: string,
  position: string = formatPosition(change.position),
): string {
  // one string hashed in one call: the same bytes (UTF-8) as feeding the parts one by one
  let text = change.table + "\u0000" + position + "\u0000" + change.op + "\u0000";
  if (change.position.snapshot || change.op === "r" || !hasLogPosition(change.position)) {
    text += canonicalKey(change.key ?? change.after ?? change.before);
  }
  text += "\u0000" + eventName;
  const hex = hash("sha256", text, "hex");
  // RFC 9562 version 8 (custom) layout, so consumers that expect a UUID accept it
  const variant = ((parseInt(hex[16] ?? "0", 16) & 3) | 8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function hasLogPosition(p: SourcePosition): boolean {
  return (p.change !== "" && p.change !== "0") || p.detail !== "";
}

function canonicalKey(row: Row | null): string {
  if (!row) return "";
  return Object.keys(row)
    .sort()
    .map((k) => `${k}=${stringify(row[k])}`)
    .join("\u0001");
}

function stringify(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "object" && value !== null)
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return String(value);
}
