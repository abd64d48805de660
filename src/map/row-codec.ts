// Row images of the table state as text, losslessly (docs/state.md): every decoded column value (change-event.ts)
// comes back exactly as it went in — int64 as bigint, doubles (NaN, -0, ±Infinity too), bytes, nested
// structs and lists, and the unavailable marker of a column whose value was never known.
import { UNAVAILABLE, type ColumnValue, type Row } from "../decode/change-event.js";

/** The tagged JSON of one value: scalars that JSON keeps exactly as they are, the rest tagged. */
type Tagged =
  | null
  | boolean
  | string
  | { i: string }
  | { f: number | string }
  | { b: string }
  | { u: 1 }
  | { a: Tagged[] }
  | { m: Record<string, Tagged> };

function tag(value: ColumnValue): Tagged {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "bigint") return { i: value.toString() };
  if (typeof value === "number") {
    if (Object.is(value, -0)) return { f: "-0" };
    return { f: Number.isFinite(value) ? value : String(value) };
  }
  if (value instanceof Uint8Array) return { b: Buffer.from(value).toString("base64") };
  if (value === UNAVAILABLE) return { u: 1 };
  if (Array.isArray(value)) return { a: value.map(tag) };
  const out: Record<string, Tagged> = {};
  for (const name of Object.keys(value)) define(out, name, tag((value as Row)[name] ?? null));
  return { m: out };
}

function untag(value: Tagged): ColumnValue {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if ("i" in value) return BigInt(value.i);
  if ("f" in value) return typeof value.f === "number" ? value.f : Number(value.f);
  if ("b" in value) return new Uint8Array(Buffer.from(value.b, "base64"));
  if ("u" in value) return UNAVAILABLE;
  if ("a" in value) return value.a.map(untag);
  return untagRow(value.m);
}

function untagRow(tagged: Record<string, Tagged>): Row {
  const row: Row = {};
  for (const name of Object.keys(tagged)) define(row, name, untag(tagged[name] ?? null));
  return row;
}

/** A column named "__proto__" is a column (plain assignment would set the prototype instead). */
function define<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === "__proto__") {
    Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  } else target[name] = value;
}

export function encodeRow(row: Row): string {
  return JSON.stringify((tag(row) as { m: Record<string, Tagged> }).m);
}

export function decodeRow(text: string): Row {
  return untagRow(JSON.parse(text) as Record<string, Tagged>);
}

/** One value of a primary key as text: an integer the same whether it came as int, integral double or decimal text. */
function keyPart(value: unknown): string {
  if (value === null || value === undefined) return "\u0000null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  if (typeof value === "string") return /^-?\d+\.0*$/.test(value) ? value.replace(/\.0*$/, "") : value;
  if (typeof value === "boolean") return String(value);
  if (value instanceof Uint8Array) return "\u0000b:" + Buffer.from(value).toString("base64");
  return "\u0000j:" + JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * The canonical text of a primary key (or index key): a scalar for a one-column key, or the values in key-column
 * order. `keyText(1001n)`, `keyText([1001n])` and `keyText(keyValues({id: 1001}))` are the same text.
 */
export function keyText(value: unknown): string {
  const parts = Array.isArray(value) ? value : [value];
  return JSON.stringify(parts.map(keyPart));
}

/** The values of a Debezium key struct in key-column order. */
export function keyValues(key: Row): ColumnValue[] {
  return Object.keys(key).map((name) => key[name] ?? null);
}
