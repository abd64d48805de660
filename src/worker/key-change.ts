// Primary-key changes (docs/transforms.md, `keyChange`): Debezium turns an update of a primary key into a delete
// carrying the header `__debezium.newkey` and a create carrying `__debezium.oldkey`; the header holds the other
// key struct, as the connector's header converter wrote it (JsonConverter with or without schema, or the default
// SimpleHeaderConverter's `Struct{id=1}` text).
import type { ChangeEvent, ColumnValue, Row, SourceRecord } from "../decode/change-event.js";
import { decodeDebeziumJson } from "../decode/debezium-json.js";

export const NEW_KEY_HEADER = "__debezium.newkey";
export const OLD_KEY_HEADER = "__debezium.oldkey";

/** The key change of a change, or null. A header that cannot be read leaves the change without one. */
export function keyChangeOf(record: SourceRecord, change: ChangeEvent): ChangeEvent["keyChange"] {
  if (!change.key) return null;
  const newKey = record.headers[NEW_KEY_HEADER];
  if (newKey !== undefined && change.op === "d") {
    const other = headerKey(record, newKey);
    return other ? { old: change.key, new: other } : null;
  }
  const oldKey = record.headers[OLD_KEY_HEADER];
  if (oldKey !== undefined && (change.op === "c" || change.op === "u")) {
    const other = headerKey(record, oldKey);
    return other ? { old: other, new: change.key } : null;
  }
  return null;
}

function headerKey(record: SourceRecord, text: string): Row | null {
  const trimmed = text.trim();
  if (trimmed.startsWith("Struct{")) return structText(trimmed);
  try {
    const decoded = decodeDebeziumJson({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      headers: {},
      key: Buffer.from(trimmed, "utf8"),
      value: null,
    });
    return decoded.kind === "tombstone" ? decoded.key : null;
  } catch {
    return null;
  }
}

/** `Struct{id=1003,code=AB}`: integers as bigint (as the decoder gives int columns), the rest as text. */
function structText(text: string): Row | null {
  const body = text.slice("Struct{".length, text.endsWith("}") ? -1 : undefined);
  const row: Row = {};
  for (const part of body.split(",")) {
    const at = part.indexOf("=");
    if (at <= 0) return null;
    const name = part.slice(0, at).trim();
    const raw = part.slice(at + 1);
    const value: ColumnValue = /^-?\d+$/.test(raw) ? BigInt(raw) : raw;
    if (name === "__proto__") return null;
    row[name] = value;
  }
  return row;
}
