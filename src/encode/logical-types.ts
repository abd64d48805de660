// The Avro logical types as avsc LogicalType subclasses. Each JS value is the canonical text a user
// reads (decimal "12.50", timestamp "2024-03-15T10:05:11.102Z", date "2024-03-15", time "10:05:11.102",
// uuid lower case), so coerced and decoded values print as-is; encoding parses that text exactly.
import avro from "avsc";
import { Reason, SchemaError, show } from "./errors.js";
import {
  formatUnscaled,
  fromTwosComplement,
  maxFixedPrecision,
  toTwosComplement,
  toUnscaled,
} from "./decimal.js";
import { INT_MAX, INT_MIN, bigintLongType, isLong } from "../avro/long.js";
import {
  type FractionDigits,
  formatDate,
  formatTime,
  formatTimestamp,
  parseDate,
  parseTime,
  parseTimestamp,
  unitsPerDay,
} from "./temporal.js";

type AvscSchema = ConstructorParameters<typeof avro.types.LogicalType>[0];
export type ForSchemaOptions = NonNullable<Parameters<typeof avro.Type.forSchema>[1]>;

function attrs(schema: AvscSchema): Record<string, unknown> {
  return schema as unknown as Record<string, unknown>;
}

/** avsc's name for what we accept: "abstract:long" is our bigint long. */
function underlyingName(type: avro.Type): string {
  return type.typeName === "abstract:long" ? "long" : type.typeName;
}

function fixedSize(type: avro.Type): number | undefined {
  return type.typeName === "fixed" ? (type as avro.types.FixedType).size : undefined;
}

/** Integer-valued number or bigint as bigint; a Reason otherwise. */
function integerOf(value: number | bigint, typeName: string): bigint {
  if (typeof value === "bigint") return value;
  if (!Number.isInteger(value)) throw new Reason(`${show(value)} is not an integer ${typeName} value`);
  return BigInt(value);
}

export abstract class CastLogicalType extends avro.types.LogicalType {
  /** short label used in messages and field listings, e.g. "decimal(12,2)" */
  abstract readonly label: string;

  constructor(schema: AvscSchema, opts: unknown, allowed: readonly string[]) {
    super(schema, opts);
    const logical = String(attrs(schema).logicalType);
    const actual = underlyingName(this.underlyingType);
    if (!allowed.includes(actual)) {
      throw new SchemaError(
        `logicalType "${logical}" needs type ${allowed.map((t) => `"${t}"`).join(" or ")}, not "${actual}"`,
      );
    }
  }

  /** Any accepted input → the canonical JS value; throws Reason. */
  abstract normalize(value: unknown): unknown;

  /**
   * The last canonical text normalize() produced, where a subclass remembers it (only texts that parse back to
   * the value they were formatted from): normalize(memoText) is memoText.
   */
  protected memoText: string | undefined;

  /** normalize(value), without redoing the work for the canonical text normalize() just produced. */
  canonical(value: unknown): unknown {
    return value !== undefined && value === this.memoText ? value : this.normalize(value);
  }
  /** Any accepted input → the value of the underlying Avro type (what goes on the wire). */
  abstract toUnderlying(value: unknown): unknown;
  /** Underlying value (as read from the wire) → canonical JS value. */
  abstract fromUnderlying(value: unknown): unknown;

  /** Same logical type with the same parameters (reading data this type's writer produced). */
  protected abstract sameAs(other: CastLogicalType): boolean;

  protected override _toValue(value: unknown): unknown {
    return this.toUnderlying(value);
  }

  protected override _fromValue(value: unknown): unknown {
    return this.fromUnderlying(value);
  }

  // Schema resolution: the same logical type, or its bare underlying type (logical types are annotations).
  protected override _resolve(writer: avro.Type): ((value: unknown) => unknown) | undefined {
    if (writer instanceof CastLogicalType) {
      return writer.constructor === this.constructor && this.sameAs(writer) ? (value) => value : undefined;
    }
    const sameUnderlying =
      underlyingName(writer) === underlyingName(this.underlyingType) &&
      fixedSize(writer) === fixedSize(this.underlyingType);
    return sameUnderlying ? (value) => this.fromUnderlying(value) : undefined;
  }
}

export class DecimalType extends CastLogicalType {
  readonly precision: number;
  readonly scale: number;
  readonly label: string;
  private readonly size: number | undefined;

  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["bytes", "fixed"]);
    const { precision, scale = 0 } = attrs(schema);
    if (typeof precision !== "number" || !Number.isInteger(precision) || precision < 1) {
      throw new SchemaError(`decimal precision must be a positive integer, got ${show(precision)}`);
    }
    if (typeof scale !== "number" || !Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new SchemaError(
        `decimal scale must be an integer from 0 to the precision (${precision}), got ${show(scale)}`,
      );
    }
    this.size = fixedSize(this.underlyingType);
    if (this.size !== undefined && precision > maxFixedPrecision(this.size)) {
      throw new SchemaError(
        `decimal precision ${precision} does not fit a fixed of ${this.size} bytes (at most ${maxFixedPrecision(this.size)})`,
      );
    }
    this.precision = precision;
    this.scale = scale;
    this.label = `decimal(${precision},${scale})`;
  }

  // The last canonical text normalize() produced and its unscaled value: encode() reads back what coerce()
  // just wrote. Exact: the canonical text parses to the unscaled value it was formatted from.
  private memoUnscaled = 0n;

  normalize(value: unknown): string {
    const unscaled = toUnscaled(value, this.precision, this.scale);
    const text = formatUnscaled(unscaled, this.scale);
    this.memoText = text;
    this.memoUnscaled = unscaled;
    return text;
  }

  toUnderlying(value: unknown): Buffer {
    const unscaled =
      value === this.memoText ? this.memoUnscaled : toUnscaled(value, this.precision, this.scale);
    return toTwosComplement(unscaled, this.size);
  }

  fromUnderlying(value: unknown): string {
    if (!(value instanceof Uint8Array)) throw new Reason(`${show(value)} is not decimal bytes`);
    return formatUnscaled(fromTwosComplement(value), this.scale);
  }

  protected sameAs(other: CastLogicalType): boolean {
    return other instanceof DecimalType && other.scale === this.scale && other.precision === this.precision;
  }
}

abstract class TimestampType extends CastLogicalType {
  abstract readonly digits: FractionDigits;
  abstract readonly local: boolean;

  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["long"]);
  }

  /** Units since the epoch: ISO-8601 text, an epoch number/bigint in the type's unit, or a Date. */
  private toEpoch(value: unknown): bigint {
    let units: bigint;
    if (typeof value === "string") units = parseTimestamp(value, this.digits, this.local, this.label);
    else if (typeof value === "number" || typeof value === "bigint") units = integerOf(value, this.label);
    else if (value instanceof Date && !Number.isNaN(value.getTime())) {
      units = BigInt(value.getTime()) * 10n ** BigInt(this.digits - 3);
    } else
      throw new Reason(`${show(value)} is not a timestamp (expected ISO-8601 text or epoch ${this.unit})`);
    if (!isLong(units)) throw new Reason(`${show(value)} is out of range for ${this.label}`);
    return units;
  }

  private get unit(): string {
    return this.digits === 3 ? "milliseconds" : "microseconds";
  }

  // The last text normalize() produced (4-digit years only: those parse back) and its units; see DecimalType.
  private memoUnits = 0n;

  normalize(value: unknown): string {
    const units = this.toEpoch(value);
    const text = formatTimestamp(units, this.digits, this.local);
    if (startsWithDigit(text)) {
      this.memoText = text;
      this.memoUnits = units;
    }
    return text;
  }

  toUnderlying(value: unknown): bigint {
    return value === this.memoText ? this.memoUnits : this.toEpoch(value);
  }

  fromUnderlying(value: unknown): string {
    if (typeof value !== "bigint") throw new Reason(`${show(value)} is not a long`);
    return formatTimestamp(value, this.digits, this.local);
  }

  protected sameAs(): boolean {
    return true; // same constructor already means same unit and zone semantics
  }
}

export class TimestampMillisType extends TimestampType {
  readonly digits = 3;
  readonly local = false;
  readonly label = "timestamp-millis";
}
export class TimestampMicrosType extends TimestampType {
  readonly digits = 6;
  readonly local = false;
  readonly label = "timestamp-micros";
}
export class LocalTimestampMillisType extends TimestampType {
  readonly digits = 3;
  readonly local = true;
  readonly label = "local-timestamp-millis";
}
export class LocalTimestampMicrosType extends TimestampType {
  readonly digits = 6;
  readonly local = true;
  readonly label = "local-timestamp-micros";
}

export class DateType extends CastLogicalType {
  readonly label = "date";

  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["int"]);
  }

  private toDays(value: unknown): number {
    let days: number;
    if (typeof value === "string") days = parseDate(value);
    else if (typeof value === "number" || typeof value === "bigint") {
      const n = integerOf(value, "date");
      if (n < BigInt(INT_MIN) || n > BigInt(INT_MAX))
        throw new Reason(`${show(value)} is out of range for date`);
      days = Number(n);
    } else throw new Reason(`${show(value)} is not a date (expected "YYYY-MM-DD" or days since 1970-01-01)`);
    if (days < INT_MIN || days > INT_MAX) throw new Reason(`${show(value)} is out of range for date`);
    return days;
  }

  // The last text normalize() produced (4-digit years only: those parse back) and its days; see DecimalType.
  private memoDays = 0;

  normalize(value: unknown): string {
    const days = this.toDays(value);
    const text = formatDate(days);
    if (startsWithDigit(text)) {
      this.memoText = text;
      this.memoDays = days;
    }
    return text;
  }

  toUnderlying(value: unknown): number {
    return value === this.memoText ? this.memoDays : this.toDays(value);
  }

  fromUnderlying(value: unknown): string {
    if (typeof value !== "number") throw new Reason(`${show(value)} is not an int`);
    return formatDate(value);
  }

  protected sameAs(): boolean {
    return true;
  }
}

abstract class TimeType extends CastLogicalType {
  abstract readonly digits: FractionDigits;

  private toUnits(value: unknown): bigint {
    let units: bigint;
    if (typeof value === "string") units = parseTime(value, this.digits, this.label);
    else if (typeof value === "number" || typeof value === "bigint") units = integerOf(value, this.label);
    else
      throw new Reason(
        `${show(value)} is not a time of day (expected "HH:MM:SS[.fraction]" or units since midnight)`,
      );
    if (units < 0n || units >= unitsPerDay(this.digits))
      throw new Reason(`${show(value)} is out of range for ${this.label}`);
    return units;
  }

  // The last text normalize() produced ("HH:MM:SS.f…", which parses back) and its units; see DecimalType.
  private memoUnits = 0n;

  normalize(value: unknown): string {
    const units = this.toUnits(value);
    const text = formatTime(units, this.digits);
    this.memoText = text;
    this.memoUnits = units;
    return text;
  }

  toUnderlying(value: unknown): number | bigint {
    const units = value === this.memoText ? this.memoUnits : this.toUnits(value);
    return this.digits === 3 ? Number(units) : units; // time-millis is an int, time-micros a long
  }

  fromUnderlying(value: unknown): string {
    if (typeof value !== "number" && typeof value !== "bigint")
      throw new Reason(`${show(value)} is not a time`);
    return formatTime(BigInt(value), this.digits);
  }

  protected sameAs(): boolean {
    return true;
  }
}

export class TimeMillisType extends TimeType {
  readonly digits = 3;
  readonly label = "time-millis";
  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["int"]);
  }
}
export class TimeMicrosType extends TimeType {
  readonly digits = 6;
  readonly label = "time-micros";
  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["long"]);
  }
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** uuid on a string (RFC 4122 text) or, since Avro 1.12, on a fixed of 16 bytes. */
export class UuidType extends CastLogicalType {
  readonly label = "uuid";
  private readonly binary: boolean;

  constructor(schema: AvscSchema, opts?: unknown) {
    super(schema, opts, ["string", "fixed"]);
    this.binary = fixedSize(this.underlyingType) !== undefined;
    if (this.binary && fixedSize(this.underlyingType) !== 16)
      throw new SchemaError("uuid on a fixed needs size 16");
  }

  normalize(value: unknown): string {
    if (typeof value !== "string" || !UUID_TEXT.test(value)) {
      throw new Reason(`${show(value)} is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
    }
    return value.toLowerCase();
  }

  toUnderlying(value: unknown): string | Buffer {
    const text = this.normalize(value);
    return this.binary ? Buffer.from(text.replaceAll("-", ""), "hex") : text;
  }

  fromUnderlying(value: unknown): string {
    if (typeof value === "string") return value;
    if (!(value instanceof Uint8Array)) throw new Reason(`${show(value)} is not a UUID`);
    const hex = Buffer.from(value).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  protected sameAs(): boolean {
    return true;
  }
}

/** A formatted date/timestamp with a 4-digit year (not "+10000-…" / "-0001-…"). */
function startsWithDigit(text: string): boolean {
  const c = text.charCodeAt(0);
  return c >= 48 && c <= 57;
}

type LogicalConstructor = new (schema: AvscSchema, opts?: unknown) => CastLogicalType;

const LONG_BASED: Record<string, LogicalConstructor> = {
  "timestamp-millis": TimestampMillisType,
  "timestamp-micros": TimestampMicrosType,
  "local-timestamp-millis": LocalTimestampMillisType,
  "local-timestamp-micros": LocalTimestampMicrosType,
  "time-micros": TimeMicrosType,
};

export const LOGICAL_TYPES: Record<string, LogicalConstructor> = {
  ...LONG_BASED,
  decimal: DecimalType,
  date: DateType,
  "time-millis": TimeMillisType,
  uuid: UuidType,
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * avsc options for our types. `{"type": "long"}` objects bypass avsc's name registry, so a type hook
 * puts the bigint long (and the long-based logical types over it) everywhere a long can appear.
 */
export function forSchemaOptions(): Partial<ForSchemaOptions> {
  const building = new WeakSet<object>();
  const typeHook = (schema: unknown, opts: unknown): avro.Type | undefined => {
    if (schema === "long") return bigintLongType;
    if (!isObject(schema) || schema.type !== "long") return undefined;
    const logical = typeof schema.logicalType === "string" ? schema.logicalType : "";
    const Logical = Object.hasOwn(LONG_BASED, logical) ? LONG_BASED[logical] : undefined;
    // another known logical type on a long: let avsc build it so its constructor reports the mismatch
    if (!Logical && Object.hasOwn(LOGICAL_TYPES, logical)) return undefined;
    if (!Logical || building.has(schema)) return bigintLongType; // plain long, or the underlying of a logical
    building.add(schema);
    try {
      return new Logical(schema as AvscSchema, opts);
    } finally {
      building.delete(schema);
    }
  };
  return {
    wrapUnions: true,
    assertLogicalTypes: true,
    omitRecordMethods: true,
    registry: {},
    // null prototype: a logicalType named "toString" is unknown, not Object.prototype.toString
    logicalTypes: Object.assign(Object.create(null) as Record<string, LogicalConstructor>, LOGICAL_TYPES),
    typeHook: typeHook as ForSchemaOptions["typeHook"],
  };
}
