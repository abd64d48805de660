// An event's Avro schema: parsed once from its .avsc, then used to coerce mapped values (docs/transforms.md),
// encode/decode the Avro binary body, and render values as plain JSON (docs/records.md).
import avro from "avsc";
import { canonicalSchemaText } from "./canonical.js";
import { type AvroRecordValue, type AvroValue, type Coercer, CoercerFactory } from "./coerce.js";
import { CoercionError, SchemaError, show } from "./errors.js";
import { forSchemaOptions } from "./logical-types.js";
import { type RenderedJson, renderValue } from "./render.js";
import { valueJsonWriter } from "./json-writer.js";
import { typeLabel, unionBranches } from "./type-info.js";

export interface EventField {
  name: string;
  /** short label: "long", "decimal(12,2)", "timestamp-millis", "union<null,string>", … */
  avroType: string;
  /** no default and not nullable: a null value is a mapping error */
  required: boolean;
  hasDefault: boolean;
  /** the default as written in the schema (Avro JSON encoding); undefined without one */
  default: unknown;
}

export type RenderedRecord = { [field: string]: RenderedJson };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fieldsOf(type: avro.types.RecordType, raw: Record<string, unknown>): EventField[] {
  const rawFields = Array.isArray(raw.fields) ? raw.fields : [];
  return type.fields.map((field, i) => {
    const rawField: unknown = rawFields[i];
    const hasDefault = isObject(rawField) && "default" in rawField;
    const nullable =
      field.type.typeName === "null" || unionBranches(field.type).some((b) => b.typeName === "null");
    return {
      name: field.name,
      avroType: typeLabel(field.type),
      required: !hasDefault && !nullable,
      hasDefault,
      default: hasDefault ? rawField.default : undefined,
    };
  });
}

export class EventSchema {
  /** namespace.name */
  readonly fullName: string;
  readonly name: string;
  /** the schema JSON text to register (all attributes kept, stable key order) */
  readonly canonical: string;
  readonly fields: readonly EventField[];
  /** the avsc type (bigint longs, wrapped unions, logical types as canonical text) */
  readonly type: avro.types.RecordType;

  private readonly byName: ReadonlyMap<string, EventField>;
  private readonly coerceRecord: Coercer;
  private readonly fieldCoercers: ReadonlyMap<string, Coercer>;
  private readonly resolvers = new WeakMap<EventSchema, unknown>();
  private jsonWriter: ((value: unknown) => string) | undefined;

  private constructor(type: avro.types.RecordType, raw: Record<string, unknown>) {
    this.type = type;
    this.fullName = type.name ?? "";
    this.name = this.fullName.slice(this.fullName.lastIndexOf(".") + 1);
    this.canonical = canonicalSchemaText(raw);
    this.fields = fieldsOf(type, raw);
    this.byName = new Map(this.fields.map((f) => [f.name, f]));
    const factory = new CoercerFactory();
    this.coerceRecord = factory.of(type);
    this.fieldCoercers = new Map(type.fields.map((field) => [field.name, factory.field(field)]));
  }

  /**
   * Parses an Avro record schema (the parsed .avsc JSON, or its text). `origin` (a file name) prefixes
   * error messages. Throws SchemaError.
   */
  static parse(schema: unknown, origin?: string): EventSchema {
    const where = origin ? `${origin}: ` : "";
    let raw = schema;
    if (typeof raw === "string") {
      try {
        raw = JSON.parse(raw) as unknown;
      } catch (err) {
        throw new SchemaError(`${where}schema is not valid JSON: ${errorMessage(err)}`);
      }
    }
    if (!isObject(raw) || (raw.type !== "record" && raw.type !== "error")) {
      throw new SchemaError(`${where}an event schema must be an Avro record ({"type": "record", …})`);
    }
    let type: avro.Type;
    try {
      type = avro.Type.forSchema(raw as Parameters<typeof avro.Type.forSchema>[0], forSchemaOptions());
    } catch (err) {
      throw new SchemaError(`${where}invalid Avro schema: ${errorMessage(err)}`);
    }
    return new EventSchema(type as avro.types.RecordType, raw);
  }

  field(name: string): EventField | undefined {
    return this.byName.get(name);
  }

  /** docs/transforms.md: mapped field values → the Avro record. Throws CoercionError naming the field and reason. */
  coerce(values: Record<string, unknown>): AvroRecordValue {
    return this.coerceRecord(values, "") as AvroRecordValue;
  }

  /** One field's value, coerced as coerce() would (null → default / null / "required" error). */
  coerceField(name: string, value: unknown): AvroValue {
    const coerce = this.fieldCoercers.get(name);
    if (!coerce) throw new CoercionError(name, `is not a field of ${this.fullName}`);
    return coerce(value, name);
  }

  /** The Avro binary body (no wire-format header). Throws CoercionError for a value of the wrong shape. */
  encode(value: AvroRecordValue): Buffer {
    try {
      return this.type.toBuffer(value);
    } catch (err) {
      throw this.invalid(value) ?? new CoercionError("", errorMessage(err));
    }
  }

  /** Decodes a body written with this schema, or with `writer` (resolved per Avro schema resolution). */
  decode(body: Buffer, writer?: EventSchema): AvroRecordValue {
    if (!writer || writer === this || writer.canonical === this.canonical) {
      return this.type.fromBuffer(body) as AvroRecordValue;
    }
    let resolver = this.resolvers.get(writer);
    if (!resolver) {
      try {
        resolver = this.type.createResolver(writer.type);
      } catch (err) {
        throw new SchemaError(
          `${this.fullName} cannot read data written with ${writer.fullName}: ${errorMessage(err)}`,
        );
      }
      this.resolvers.set(writer, resolver);
    }
    return this.type.fromBuffer(body, resolver as ReturnType<avro.Type["createResolver"]>) as AvroRecordValue;
  }

  /** docs/records.md plain JSON of a coerced or decoded value (longs stay bigint: print with stringifyJson). */
  render(value: AvroRecordValue): RenderedRecord {
    return renderValue(this.type, value) as RenderedRecord;
  }

  /** The JSON text of render(value) as stringifyJson writes it, without building the rendered object. */
  renderJson(value: AvroRecordValue): string {
    return (this.jsonWriter ??= valueJsonWriter(this.type))(value);
  }

  /** The first invalid spot of `value`, as a CoercionError with its path. */
  private invalid(value: AvroRecordValue): CoercionError | undefined {
    let found: CoercionError | undefined;
    this.type.isValid(value, {
      errorHook: (path: string[], bad: unknown, type: avro.Type) => {
        found ??= new CoercionError(path.join("."), `${show(bad)} is not a valid ${typeLabel(type)}`);
      },
    });
    return found;
  }
}
