// Avro schema compatibility, as Confluent Schema Registry decides it: the Avro specification's schema
// resolution rules (reader vs writer, the same rules as Java's org.apache.avro.SchemaCompatibility, which
// Confluent delegates to) applied per compatibility level against the subject's previous versions.
import type { CompatibilityLevel, CompatibilityResult } from "./registry.js";
import {
  parseAvroSchema,
  simpleName,
  type AvroField,
  type AvroSchema,
  type EnumSchema,
  type FixedSchema,
  type LogicalType,
  type NamedSchema,
  type RecordSchema,
  type UnionSchema,
} from "./compat-parse.js";

export { InvalidSchemaError, parseAvroSchema } from "./compat-parse.js";
export type { AvroField, AvroSchema } from "./compat-parse.js";

export type IncompatibilityType =
  | "NAME_MISMATCH"
  | "FIXED_SIZE_MISMATCH"
  | "MISSING_ENUM_SYMBOLS"
  | "READER_FIELD_MISSING_DEFAULT_VALUE"
  | "TYPE_MISMATCH"
  | "MISSING_UNION_BRANCH"
  | "DECIMAL_MISMATCH";

export interface Incompatibility {
  /** JSON-pointer-like location in the reader schema: "/fields/address/fields/zip", "/items", "/symbols" … */
  path: string;
  /** "<path>: <what is wrong>" */
  message: string;
  type: IncompatibilityType;
}

/** Promotions the specification allows: writer type → reader types that can read it. */
const PROMOTIONS: Record<string, readonly string[]> = {
  int: ["long", "float", "double"],
  long: ["float", "double"],
  float: ["double"],
  string: ["bytes"],
  bytes: ["string"],
};

/** Identity-keyed set of (reader, writer) pairs currently being checked: breaks recursion. */
class PairSet {
  private readonly pairs = new Map<AvroSchema, Set<AvroSchema>>();
  has(r: AvroSchema, w: AvroSchema): boolean {
    return this.pairs.get(r)?.has(w) ?? false;
  }
  add(r: AvroSchema, w: AvroSchema): void {
    const set = this.pairs.get(r) ?? new Set<AvroSchema>();
    set.add(w);
    this.pairs.set(r, set);
  }
  delete(r: AvroSchema, w: AvroSchema): void {
    this.pairs.get(r)?.delete(w);
  }
}

function pointer(segments: readonly string[]): string {
  return "/" + segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

function incompatible(segments: readonly string[], type: IncompatibilityType, what: string): Incompatibility {
  const path = pointer(segments);
  return { path, type, message: `${path}: ${what}` };
}

/** A short human name of a schema for messages: "string", "record io.example.Customer", "union". */
function describe(s: AvroSchema): string {
  switch (s.kind) {
    case "primitive":
      return s.logical ? `${s.type} (${s.logical.name})` : s.type;
    case "record":
    case "enum":
    case "fixed":
      return `${s.kind} ${s.name}`;
    default:
      return s.kind;
  }
}

/** Java's SchemaCompatibility.schemaNameEquals: unqualified names, or a reader alias naming the writer. */
function namesMatch(reader: NamedSchema, writer: NamedSchema): boolean {
  return simpleName(reader.name) === simpleName(writer.name) || reader.aliases.includes(writer.name);
}

function lookupWriterField(writer: RecordSchema, field: AvroField): AvroField | undefined {
  const byName = writer.fields.find((f) => f.name === field.name);
  if (byName) return byName;
  return writer.fields.find((f) => field.aliases.includes(f.name));
}

/** Decimal schemas match only if precision and scale match (Avro specification, "Decimal"). */
function decimalMismatch(r: LogicalType | undefined, w: LogicalType | undefined): string | undefined {
  if (r?.name !== "decimal" || w?.name !== "decimal") return undefined;
  if (r.precision === w.precision && r.scale === w.scale) return undefined;
  return `reader decimal(${r.precision},${r.scale}) does not match writer decimal(${w.precision},${w.scale})`;
}

/** Whether a reader union branch is the writer's counterpart: same named type, or same container kind. */
function sameSlot(branch: AvroSchema, writer: AvroSchema): boolean {
  if (branch.kind !== writer.kind) return false;
  if (branch.kind === "array" || branch.kind === "map") return true;
  if (branch.kind === "record" || branch.kind === "enum" || branch.kind === "fixed") {
    return namesMatch(branch, writer as NamedSchema);
  }
  return false;
}

class Checker {
  private readonly inProgress = new PairSet();

  check(reader: AvroSchema, writer: AvroSchema, at: readonly string[]): Incompatibility[] {
    // A pair already on the stack is assumed compatible: any real difference is reported where it occurs.
    if (this.inProgress.has(reader, writer)) return [];
    this.inProgress.add(reader, writer);
    try {
      return this.calculate(reader, writer, at);
    } finally {
      this.inProgress.delete(reader, writer);
    }
  }

  private calculate(reader: AvroSchema, writer: AvroSchema, at: readonly string[]): Incompatibility[] {
    if (writer.kind === "union") return this.writerUnion(reader, writer, at);
    if (reader.kind === "union") return this.readerUnion(reader, writer, at);
    if (reader.kind === "primitive" && writer.kind === "primitive") {
      if (reader.type === writer.type) {
        const mismatch = decimalMismatch(reader.logical, writer.logical);
        return mismatch ? [incompatible(at, "DECIMAL_MISMATCH", mismatch)] : [];
      }
      if (PROMOTIONS[writer.type]?.includes(reader.type)) return [];
      return [this.typeMismatch(reader, writer, at)];
    }
    if (reader.kind === "record" && writer.kind === "record") return this.record(reader, writer, at);
    if (reader.kind === "enum" && writer.kind === "enum") return this.enumType(reader, writer, at);
    if (reader.kind === "fixed" && writer.kind === "fixed") return this.fixed(reader, writer, at);
    if (reader.kind === "array" && writer.kind === "array")
      return this.check(reader.items, writer.items, [...at, "items"]);
    if (reader.kind === "map" && writer.kind === "map")
      return this.check(reader.values, writer.values, [...at, "values"]);
    return [this.typeMismatch(reader, writer, at)];
  }

  private typeMismatch(reader: AvroSchema, writer: AvroSchema, at: readonly string[]): Incompatibility {
    return incompatible(
      at,
      "TYPE_MISMATCH",
      `reader type ${describe(reader)} is not compatible with writer type ${describe(writer)}`,
    );
  }

  /** Every branch the writer may have used must be readable. */
  private writerUnion(reader: AvroSchema, writer: UnionSchema, at: readonly string[]): Incompatibility[] {
    return writer.branches.flatMap((branch) => this.check(reader, branch, at));
  }

  /** Some branch of the reader union must read the (non-union) writer. */
  private readerUnion(reader: UnionSchema, writer: AvroSchema, at: readonly string[]): Incompatibility[] {
    if (reader.branches.some((b) => this.check(b, writer, at).length === 0)) return [];
    // When the reader has the "same" branch (the writer's record in ["null", Record]), its own differences
    // say more than Java's bare MISSING_UNION_BRANCH.
    const counterpart = reader.branches.find((b) => sameSlot(b, writer));
    if (counterpart) return this.check(counterpart, writer, at);
    return [incompatible(at, "MISSING_UNION_BRANCH", `reader union lacks writer type ${describe(writer)}`)];
  }

  private nameCheck(reader: NamedSchema, writer: NamedSchema, at: readonly string[]): Incompatibility[] {
    if (namesMatch(reader, writer)) return [];
    return [
      incompatible(
        [...at, "name"],
        "NAME_MISMATCH",
        `reader name ${reader.name} does not match writer ${writer.name}`,
      ),
    ];
  }

  private record(reader: RecordSchema, writer: RecordSchema, at: readonly string[]): Incompatibility[] {
    const out = this.nameCheck(reader, writer, at);
    for (const field of reader.fields) {
      const fieldAt = [...at, "fields", field.name];
      const source = lookupWriterField(writer, field);
      if (source) {
        out.push(...this.check(field.type, source.type, fieldAt));
      } else if (!field.hasDefault) {
        // writer fields the reader lacks are simply skipped; a reader field the writer lacks needs a default
        out.push(
          incompatible(
            fieldAt,
            "READER_FIELD_MISSING_DEFAULT_VALUE",
            "reader field has no default and writer lacks it",
          ),
        );
      }
    }
    return out;
  }

  private enumType(reader: EnumSchema, writer: EnumSchema, at: readonly string[]): Incompatibility[] {
    const out = this.nameCheck(reader, writer, at);
    const missing = writer.symbols.filter((s) => !reader.symbols.includes(s));
    const hasDefault = reader.default !== undefined && reader.symbols.includes(reader.default);
    if (missing.length > 0 && !hasDefault) {
      out.push(
        incompatible(
          [...at, "symbols"],
          "MISSING_ENUM_SYMBOLS",
          `reader enum lacks writer symbols [${[...missing].sort().join(", ")}] and has no default`,
        ),
      );
    }
    return out;
  }

  private fixed(reader: FixedSchema, writer: FixedSchema, at: readonly string[]): Incompatibility[] {
    const out = this.nameCheck(reader, writer, at);
    if (reader.size !== writer.size) {
      out.push(
        incompatible(
          [...at, "size"],
          "FIXED_SIZE_MISMATCH",
          `expected size ${writer.size}, found ${reader.size}`,
        ),
      );
    }
    const mismatch = decimalMismatch(reader.logical, writer.logical);
    if (mismatch) out.push(incompatible(at, "DECIMAL_MISMATCH", mismatch));
    return out;
  }
}

/** What stops `reader` from reading data written with `writer` (empty: compatible). */
export function canRead(reader: AvroSchema, writer: AvroSchema): Incompatibility[] {
  return new Checker().check(reader, writer, []);
}

type Direction = "backward" | "forward";

function directionsOf(level: CompatibilityLevel): Direction[] {
  if (level.startsWith("BACKWARD")) return ["backward"];
  if (level.startsWith("FORWARD")) return ["forward"];
  if (level.startsWith("FULL")) return ["backward", "forward"];
  return [];
}

/**
 * Checks `newSchema` against the subject's `previous` schemas (oldest first) under `level`, with Confluent's
 * semantics: BACKWARD = the new schema reads data of the latest one, FORWARD = the latest reads the new,
 * FULL = both; *_TRANSITIVE = against every previous version; NONE, or no previous version = compatible.
 * Throws InvalidSchemaError when any schema is invalid.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  newSchema: string | object,
  previous: (string | object)[],
): CompatibilityResult {
  const candidate = parseAvroSchema(newSchema);
  const parsed = previous.map((p) => parseAvroSchema(p));
  const directions = directionsOf(level);
  if (directions.length === 0 || parsed.length === 0) return { isCompatible: true, messages: [] };
  const first = level.endsWith("_TRANSITIVE") ? 0 : parsed.length - 1;
  const messages: string[] = [];
  for (let i = first; i < parsed.length; i++) {
    const old = parsed[i] as AvroSchema;
    const label = `against version ${i + 1} (previous[${i}])`;
    for (const direction of directions) {
      const found = direction === "backward" ? canRead(candidate, old) : canRead(old, candidate);
      const suffix =
        direction === "backward"
          ? ` [new schema reading version ${i + 1} data]`
          : ` [version ${i + 1} reading new data]`;
      messages.push(...found.map((f) => `${label}: ${f.message}${suffix}`));
    }
  }
  return { isCompatible: messages.length === 0, messages };
}
