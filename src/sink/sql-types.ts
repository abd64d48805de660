// Avro → SQL column types (docs/sink.md, "Types") and the conversion of projected values to what the target's
// driver binds. Values arrive as the plain JSON of docs/records.md (decimals as text with their scale, timestamps
// as ISO-8601 text, bytes base64, longs as bigint), so no value is changed on the way: SQLite keeps decimals,
// times and timestamps as text, where its numeric affinity would round them.
import type avro from "avsc";
import type { Knex } from "knex";
import { SQL_TYPES } from "../config/sink-schema.js";
import { stringifyJson } from "../encode/json.js";

export type SqlType = (typeof SQL_TYPES)[number] | `decimal(${number},${number})`;
export type Dialect = "sqlite" | "postgres";

export interface ColumnType {
  type: SqlType;
  nullable: boolean;
}

/** `decimal(P,S)` or one of SQL_TYPES; null when the text names neither. */
export function parseSqlType(text: string): SqlType | null {
  const t = text.trim().toLowerCase();
  if ((SQL_TYPES as readonly string[]).includes(t)) return t as SqlType;
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  if (m && Number(m[2]) <= Number(m[1])) return `decimal(${Number(m[1])},${Number(m[2])})`;
  return null;
}

interface TypeLike {
  typeName: string;
  label?: string;
  types?: readonly TypeLike[];
  precision?: number;
  scale?: number;
}

/** The column type of an Avro type: a union with null is nullable; any other union, record, array or map is json. */
export function columnTypeOf(type: avro.Type): ColumnType {
  const t = type as unknown as TypeLike;
  if (t.typeName.startsWith("union")) {
    const branches = (t.types ?? []).filter((b) => b.typeName !== "null");
    const nullable = branches.length < (t.types ?? []).length;
    if (branches.length === 1) return { type: plainType(branches[0] as TypeLike), nullable };
    return { type: "json", nullable };
  }
  return { type: plainType(t), nullable: t.typeName === "null" };
}

function plainType(t: TypeLike): SqlType {
  if (t.typeName.startsWith("logical:") || t.label) {
    const label = t.label ?? t.typeName.slice("logical:".length);
    const decimal = /^decimal\((\d+),(\d+)\)$/.exec(label);
    if (decimal) return `decimal(${Number(decimal[1])},${Number(decimal[2])})`;
    if (/^timestamp-/.test(label)) return "timestamptz";
    if (/^local-timestamp-/.test(label)) return "timestamp";
    if (label === "date") return "date";
    if (/^time-/.test(label)) return "time";
    if (label === "uuid") return "uuid";
  }
  switch (t.typeName) {
    case "boolean":
      return "boolean";
    case "int":
      return "integer";
    case "long":
    case "abstract:long":
      return "bigint";
    case "float":
      return "real";
    case "double":
      return "double";
    case "string":
    case "enum":
      return "text";
    case "bytes":
    case "fixed":
      return "binary";
    default:
      return "json"; // record, array, map
  }
}

/** Adds a column of `type` to a knex table builder, as the dialect stores it. */
export function addColumn(
  t: Knex.CreateTableBuilder,
  dialect: Dialect,
  name: string,
  type: SqlType,
): Knex.ColumnBuilder {
  const pg = dialect === "postgres";
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (decimal) return pg ? t.decimal(name, Number(decimal[1]), Number(decimal[2])) : t.text(name);
  switch (type as (typeof SQL_TYPES)[number]) {
    case "text":
      return t.text(name);
    case "boolean":
      return t.boolean(name);
    case "integer":
      return t.integer(name);
    case "bigint":
      return t.bigInteger(name);
    case "real":
      return pg ? t.specificType(name, "real") : t.float(name);
    case "double":
      return pg ? t.specificType(name, "double precision") : t.double(name);
    case "date":
      return pg ? t.date(name) : t.text(name);
    case "time":
      return pg ? t.specificType(name, "time(6)") : t.text(name);
    case "timestamp":
      return pg ? t.timestamp(name, { useTz: false, precision: 6 }) : t.text(name);
    case "timestamptz":
      return pg ? t.timestamp(name, { useTz: true, precision: 6 }) : t.text(name);
    case "uuid":
      return pg ? t.uuid(name) : t.text(name);
    case "binary":
      return t.binary(name);
    case "json":
      return pg ? t.jsonb(name) : t.text(name);
  }
  return t.text(name);
}

/** A projected value as the driver binds it into a column of `type`. */
export function toSqlValue(value: unknown, type: SqlType, dialect: Dialect): unknown {
  if (value === null || value === undefined) return null;
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (decimal && (typeof value === "string" || typeof value === "number" || typeof value === "bigint"))
    checkDecimal(String(value), Number(decimal[1]), Number(decimal[2]));
  // JSON text in both targets: a string (a union's string branch) too, so the column always parses as JSON
  if (type === "json") return stringifyJson(value);
  if (type === "binary" && typeof value === "string") return Buffer.from(value, "base64");
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === "object") return stringifyJson(value);
  if (typeof value === "boolean") return dialect === "sqlite" ? (value ? 1 : 0) : value;
  // knex cannot quote a bigint into an error message; SQLite's integer affinity turns the text back exactly
  if (typeof value === "bigint")
    return dialect === "sqlite" && Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

/**
 * A declared decimal(P,S) narrower than the value: Postgres would round the extra fraction digits silently, so the
 * value is refused here (in both targets) rather than changed.
 */
function checkDecimal(text: string, precision: number, scale: number): void {
  const m = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) return; // not plain decimal text (an exponent, NaN): the database says whether it takes it
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  const integer = (m[1] ?? "").replace(/^0+/, "");
  if (fraction.length > scale)
    throw new RangeError(
      `${text} does not fit decimal(${precision},${scale}): it has more than ${scale} fraction digits`,
    );
  if (integer.length > precision - scale)
    throw new RangeError(
      `${text} does not fit decimal(${precision},${scale}): it has more than ${precision - scale} integer digits`,
    );
}
