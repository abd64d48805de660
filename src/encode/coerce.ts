// docs/transforms.md coercion: the plain JS values a CEL expression yields → the exact Avro value of the target
// type. Never a silent truncation, rounding or overflow: those are CoercionErrors naming the field.
import avro from "avsc";
import { UNAVAILABLE } from "../decode/change-event.js";
import { CoercionError, Reason, show } from "./errors.js";
import { CastLogicalType } from "./logical-types.js";
import { INT_MAX, INT_MIN, isLong } from "../avro/long.js";
import { stringifyJson } from "./json.js";
import { typeLabel, unionBranches } from "./type-info.js";

/** A value as avsc encodes it with our options (wrapped unions, bigint longs, logical types as text). */
export type AvroValue =
  null | boolean | number | bigint | string | Buffer | AvroValue[] | { [key: string]: AvroValue };
export type AvroRecordValue = { [field: string]: AvroValue };

/** Coerces `value` for the field at `path`; throws CoercionError. */
export type Coercer = (value: unknown, path: string) => AvroValue;

const UNAVAILABLE_TEXT = "__debezium_unavailable_value";
const UNAVAILABLE_REASON = "maps an unavailable (unchanged TOAST/LOB) column";

function isUnavailable(value: unknown): boolean {
  return value === UNAVAILABLE || (typeof value === "string" && value.includes(UNAVAILABLE_TEXT));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map) &&
    !(value instanceof Date) &&
    value !== UNAVAILABLE
  );
}

/** Own enumerable property set that is safe for any key (even "__proto__"). */
function setOwn(target: Record<string, AvroValue>, key: string, value: AvroValue): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function entriesOf(value: unknown): [string, unknown][] | undefined {
  if (value instanceof Map) {
    const entries: [string, unknown][] = [];
    for (const [k, v] of value) entries.push([typeof k === "string" ? k : String(k), v]);
    return entries;
  }
  return isPlainObject(value) ? Object.entries(value) : undefined;
}

function childPath(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

/** Wraps a leaf converter: Reason → CoercionError at `path`; unavailable marker rejected first. */
function leaf(convert: (value: unknown) => AvroValue): Coercer {
  return (value, path) => {
    if (isUnavailable(value)) throw new CoercionError(path, UNAVAILABLE_REASON);
    try {
      return convert(value);
    } catch (err) {
      if (err instanceof Reason) throw new CoercionError(path, err.message);
      throw err;
    }
  };
}

/** A plain decimal string (`-?digits[.digits]`): how Debezium sends Decimal columns in string mode. */
const DECIMAL_TEXT = /^(-?[0-9]+)(?:\.([0-9]+))?$/;

/**
 * A whole-number decimal string as its exact integer ("1234", "1234.00"); a fraction other than zeros is an
 * error; any other value is returned unchanged for the numeric rules.
 */
function wholeDecimal(value: unknown, type: "int" | "long"): unknown {
  if (typeof value !== "string") return value;
  const m = DECIMAL_TEXT.exec(value);
  if (!m) return value;
  if (m[2] !== undefined && /[^0]/.test(m[2]))
    throw new Reason(`${show(value)} is not ${type === "int" ? "an int" : "a long"} (it has a fraction)`);
  const whole = m[1] ?? "";
  // no BigInt of a huge digit string: past 19 significant digits it cannot be a long anyway
  if (whole.replace(/^-?0*/, "").length > 19) throw outOfRange(value, type);
  return BigInt(whole);
}

function outOfRange(original: unknown, type: string): Reason {
  return new Reason(`${show(original)} is out of range for ${type}`);
}

function toInt(original: unknown): number {
  const value = wholeDecimal(original, "int");
  if (typeof value === "bigint") {
    if (value < BigInt(INT_MIN) || value > BigInt(INT_MAX)) throw outOfRange(original, "int");
    return Number(value);
  }
  if (typeof value === "number" && Number.isInteger(value)) {
    if (value < INT_MIN || value > INT_MAX) throw new Reason(`${show(value)} is out of range for int`);
    return value === 0 ? 0 : value; // no -0
  }
  throw new Reason(`${show(value)} is not an int (expected an integer)`);
}

function toLong(original: unknown): bigint {
  const value = wholeDecimal(original, "long");
  let n: bigint;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
  else throw new Reason(`${show(value)} is not a long (expected an integer)`);
  if (!isLong(n)) throw outOfRange(original, "long");
  return n;
}

function toFloating(value: unknown, single: boolean): number {
  const name = single ? "float" : "double";
  const round = single ? Math.fround : (n: number) => n;
  if (typeof value === "number") {
    const rounded = round(value);
    if (Number.isFinite(value) && !Number.isFinite(rounded))
      throw new Reason(`${show(value)} overflows ${name}`);
    return rounded;
  }
  if (typeof value === "bigint") {
    const n = round(Number(value));
    if (!Number.isFinite(n) || BigInt(n) !== value)
      throw new Reason(`${show(value)} is not exactly representable as ${name}`);
    return n;
  }
  throw new Reason(`${show(value)} is not a number`);
}

/** JSON text of a structured value; unavailable markers anywhere inside are still rejected. */
function jsonText(value: unknown): string {
  const text = stringifyJson(value, (_key, v) => {
    if (isUnavailable(v)) throw new Reason(UNAVAILABLE_REASON);
    return v instanceof Map ? Object.fromEntries(v) : v;
  });
  return text;
}

function toText(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "bigint":
    case "number":
    case "boolean":
      return String(value);
  }
  if (value instanceof Uint8Array) throw new Reason(`${show(value)} cannot be coerced to string (bytes)`);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) || value instanceof Map || isPlainObject(value)) return jsonText(value);
  throw new Reason(`${show(value)} is not a string`);
}

function toBytes(value: unknown): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return Buffer.from(value, "utf8");
  throw new Reason(`${show(value)} is not bytes (expected bytes or a string)`);
}

function toFixed(value: unknown, size: number, label: string): Buffer {
  if (!(value instanceof Uint8Array)) throw new Reason(`${show(value)} is not bytes for ${label}`);
  if (value.length !== size)
    throw new Reason(`${show(value)} has ${value.length} bytes; ${label} needs exactly ${size}`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Builds (and caches, for recursive schemas) the coercer of each type. */
export class CoercerFactory {
  private readonly cache = new Map<avro.Type, Coercer>();

  of(type: avro.Type): Coercer {
    const known = this.cache.get(type);
    if (known) return known;
    // Placeholder first: a recursive record reaches itself while being built (called only afterwards).
    this.cache.set(type, (value, path) => built(value, path));
    const built = this.build(type);
    this.cache.set(type, built);
    return built;
  }

  private build(type: avro.Type): Coercer {
    if (type instanceof CastLogicalType) {
      const logical = type;
      return leaf((v) => logical.normalize(v) as AvroValue);
    }
    switch (type.typeName) {
      case "null":
        return leaf((v) => {
          if (v === null || v === undefined) return null;
          throw new Reason(`${show(v)} is not null`);
        });
      case "boolean":
        return leaf((v) => {
          if (typeof v === "boolean") return v;
          throw new Reason(`${show(v)} is not a boolean`);
        });
      case "int":
        return leaf(toInt);
      case "long":
      case "abstract:long":
        return leaf(toLong);
      case "float":
        return leaf((v) => toFloating(v, true));
      case "double":
        return leaf((v) => toFloating(v, false));
      case "string":
        return leaf(toText);
      case "bytes":
        return leaf(toBytes);
      case "fixed": {
        const size = (type as avro.types.FixedType).size;
        const label = typeLabel(type);
        return leaf((v) => toFixed(v, size, label));
      }
      case "enum":
        return this.enumCoercer(type as avro.types.EnumType);
      case "array":
        return this.arrayCoercer(type as avro.types.ArrayType);
      case "map":
        return this.mapCoercer(type as avro.types.MapType);
      case "record":
      case "error":
        return this.recordCoercer(type as avro.types.RecordType);
      default:
        if (type.typeName.startsWith("union")) return this.unionCoercer(type);
        return leaf((v) => {
          throw new Reason(`${show(v)}: unsupported Avro type ${type.typeName}`);
        });
    }
  }

  private enumCoercer(type: avro.types.EnumType): Coercer {
    const symbols = new Set(type.symbols);
    const listed = type.symbols.join(", ");
    return leaf((v) => {
      if (typeof v === "string" && symbols.has(v)) return v;
      throw new Reason(`${show(v)} is not a symbol of enum ${type.name ?? ""} (${listed})`);
    });
  }

  private arrayCoercer(type: avro.types.ArrayType): Coercer {
    const items = this.of(type.itemsType);
    return (value, path) => {
      if (isUnavailable(value)) throw new CoercionError(path, UNAVAILABLE_REASON);
      if (!Array.isArray(value)) throw new CoercionError(path, `${show(value)} is not an array`);
      return value.map((item: unknown, i) => items(item, `${path}[${i}]`));
    };
  }

  private mapCoercer(type: avro.types.MapType): Coercer {
    const values = this.of(type.valuesType as avro.Type);
    return (value, path) => {
      if (isUnavailable(value)) throw new CoercionError(path, UNAVAILABLE_REASON);
      const entries = entriesOf(value);
      if (!entries) throw new CoercionError(path, `${show(value)} is not a map (expected an object)`);
      const out: Record<string, AvroValue> = {};
      for (const [key, item] of entries) setOwn(out, key, values(item, `${path}[${JSON.stringify(key)}]`));
      return out;
    };
  }

  /** A record field's coercer: null/missing → default, else null when nullable, else "required". */
  field(field: avro.types.Field): Coercer {
    const coerce = this.of(field.type);
    const fallback = fieldFallback(field);
    return (value, path) => (value === null || value === undefined ? fallback(path) : coerce(value, path));
  }

  private recordCoercer(type: avro.types.RecordType): Coercer {
    const fields = type.fields.map((field) => ({ name: field.name, coerce: this.field(field) }));
    const names = new Set(fields.map((f) => f.name));
    return (value, path) => {
      if (isUnavailable(value)) throw new CoercionError(path, UNAVAILABLE_REASON);
      const source = value instanceof Map ? Object.fromEntries(entriesOf(value) ?? []) : value;
      if (!isPlainObject(source))
        throw new CoercionError(path, `${show(value)} is not a record (expected an object)`);
      for (const key of Object.keys(source)) {
        if (!names.has(key))
          throw new CoercionError(childPath(path, key), `is not a field of ${type.name ?? "the record"}`);
      }
      const out: Record<string, AvroValue> = {};
      for (const field of fields) {
        const item = Object.hasOwn(source, field.name) ? source[field.name] : undefined;
        setOwn(out, field.name, field.coerce(item, childPath(path, field.name)));
      }
      return out;
    };
  }

  private unionCoercer(type: avro.Type): Coercer {
    const branches = unionBranches(type);
    const nullable = branches.some((b) => b.typeName === "null");
    const tries = branches
      .filter((b) => b.typeName !== "null")
      .map((b) => ({ branch: b.branchName ?? "", coerce: this.of(b), type: b }));
    const label = typeLabel(type);
    // Branches that hold the value as it is come first (as Java's GenericData.resolveUnion picks by the datum's
    // type): in ["string","long"] a long 30001 is not the text "30001", in ["long","string"] the text "007" is
    // not the number 7. A converting branch is tried only when no branch has the value's kind.
    const mayConvert = tries.length > 1;
    return (value, path) => {
      if (isUnavailable(value)) throw new CoercionError(path, UNAVAILABLE_REASON);
      if (value === null || value === undefined) {
        if (nullable) return null;
        throw new CoercionError(path, `null is not allowed (${label} has no null branch)`);
      }
      const reasons: string[] = [];
      const ordered = mayConvert ? orderByKind(value, tries) : tries;
      for (const { branch, coerce } of ordered) {
        try {
          return { [branch]: coerce(value, path) };
        } catch (err) {
          if (!(err instanceof CoercionError)) throw err;
          reasons.push(err.reason);
        }
      }
      throw new CoercionError(path, `${show(value)} matches no branch of ${label} (${reasons.join("; ")})`);
    };
  }
}

const NUMERIC = new Set(["int", "long", "abstract:long", "float", "double"]);

/** Whether putting `value` in `branch` converts it to another kind (text ↔ number, boolean → text). */
function crossKind(value: unknown, branch: avro.Type): boolean {
  if (branch instanceof CastLogicalType) return false;
  const name = branch.typeName;
  if (typeof value === "string") return NUMERIC.has(name);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
    return name === "string";
  return false;
}

/** The branches that keep `value`'s kind, then those that convert it, each in declared order. */
function orderByKind<T extends { type: avro.Type }>(value: unknown, all: T[]): T[] {
  const own = all.filter((t) => !crossKind(value, t.type));
  return own.length === all.length || own.length === 0
    ? all
    : [...own, ...all.filter((t) => !own.includes(t))];
}

/** What a null/missing value becomes: the default, else null for a nullable type, else "required". */
function fieldFallback(field: avro.types.Field): (path: string) => AvroValue {
  if (field.defaultValue() !== undefined) return () => field.defaultValue() as AvroValue;
  const type = field.type;
  const nullable = type.typeName === "null" || unionBranches(type).some((b) => b.typeName === "null");
  if (nullable) return () => null;
  return (path) => {
    throw new CoercionError(path, "is required but the value is null (no default, not nullable)");
  };
}
