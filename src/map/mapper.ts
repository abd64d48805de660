// Maps one ChangeEvent to the business events its table's transform files declare.
import { UNAVAILABLE, type ChangeEvent, type ColumnValue, type Row } from "../decode/change-event.js";
import { celList, celMap, type CelInput } from "@bufbuild/cel";
import {
  ExpressionError,
  isPlainObject,
  RAW_ROWS,
  type Bindings,
  type Expression,
  type RawRows,
} from "./expression.js";
import type { EventDeclaration, TransformFile } from "./transform-file.js";
import type { RequireDeclaration } from "./requires.js";
import type { AggregateDeclaration } from "./aggregate-file.js";
import { ChangecastError } from "../errors.js";
import { LimitExceeded } from "./cel-limits.js";

/** A business event derived from a change, fields not yet coerced to the schema. */
export interface MappedEvent {
  declaration: EventDeclaration;
  /** the aggregate key as text (the Kafka record key) */
  key: string;
  fields: Record<string, unknown>;
}

export class MappingError extends ChangecastError {
  override readonly name = "MappingError";
  /** MAP_EVALUATION_LIMIT when an expression ran over a CEL evaluation limit, else MAP_FIELD */
  readonly code: "MAP_FIELD" | "MAP_EVALUATION_LIMIT";
  constructor(
    message: string,
    readonly eventName: string,
    readonly fieldName: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = overLimit(options?.cause) ? "MAP_EVALUATION_LIMIT" : "MAP_FIELD";
  }
}

function overLimit(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof LimitExceeded) return true;
  }
  return false;
}

/** The placeholder text CEL sees for an unavailable column; a field that carries it is a mapping error. */
export const UNAVAILABLE_TEXT = "__debezium_unavailable_value";

/** Active majors per event name, as the migrator decides them (see src/migrate/majors.ts). */
export type MajorSelection = ReadonlyMap<string, ReadonlySet<number>>;

/** Routes tables to their event declarations (several transform files may serve one table). */
export class TransformSet {
  private readonly byTable = new Map<string, EventDeclaration[]>();
  private readonly lowestMajor = new Map<string, number>();
  private selection: MajorSelection = new Map();
  /** the `requires` of each child table (dependencies) */
  readonly requires = new Map<string, RequireDeclaration[]>();
  /** the aggregate files (transaction aggregates) */
  readonly aggregates: AggregateDeclaration[] = [];
  constructor(readonly files: TransformFile[]) {
    for (const file of files) {
      if (file.requires)
        this.requires.set(file.table, [...(this.requires.get(file.table) ?? []), ...file.requires]);
      if (file.aggregate) {
        // root and member tables are routed (their changes may have no events of their own)
        this.aggregates.push(file.aggregate);
        for (const t of [file.aggregate.root, ...file.aggregate.members.map((m) => m.table)])
          if (!this.byTable.has(t)) this.byTable.set(t, []);
      }
      const list = this.byTable.get(file.table) ?? [];
      list.push(...file.events);
      this.byTable.set(file.table, list);
      for (const d of [...file.events, ...(file.aggregate?.events ?? [])]) {
        const major = d.major ?? 1;
        this.lowestMajor.set(d.name, Math.min(major, this.lowestMajor.get(d.name) ?? major));
      }
    }
  }
  /**
   * Whether a declaration is published now. Without a selection for its event, only the event's lowest declared
   * major is (declaring a new major publishes nothing until `changecast migrate start`).
   */
  isActive(declaration: EventDeclaration): boolean {
    const major = declaration.major ?? 1;
    const active = this.selection.get(declaration.name);
    return active ? active.has(major) : major === this.lowestMajor.get(declaration.name);
  }
  /** Replaces the active majors (the worker refreshes them from the state store's `migrations` table). */
  selectMajors(selection: MajorSelection): void {
    this.selection = selection;
  }
  forTable(table: string): EventDeclaration[] | undefined {
    return this.byTable.get(table);
  }
  get tables(): string[] {
    return [...this.byTable.keys()];
  }
  get declarations(): EventDeclaration[] {
    return [...this.byTable.values()].flat().concat(this.aggregates.flatMap((a) => a.events));
  }
}

/** Evaluates every declaration for the change: `when`, then key and fields. All-or-nothing per change. */
export function mapChange(
  change: ChangeEvent,
  declarations: EventDeclaration[],
  /** the variables (default: the change's); an aggregate's are root, member lists and tx */
  bindings?: Bindings,
): MappedEvent[] {
  const vars = bindings ?? bindingsFor(change);
  const out: MappedEvent[] = [];
  for (const declaration of declarations) {
    if (declaration.when) {
      const pass = evaluate(declaration, declaration.when, vars, "when", null);
      if (pass === false) continue;
      if (pass !== true) {
        throw new MappingError(
          `event ${declaration.name}: when must yield a bool, got ${describe(pass)}`,
          declaration.name,
          null,
        );
      }
    }
    const keyValue = evaluate(declaration, declaration.key, vars, "key", null);
    const key = keyText(declaration, keyValue);
    const fields: Record<string, unknown> = {};
    for (const field of declaration.fields) {
      const value = evaluate(declaration, field.expression, vars, "field", field.name);
      if (carriesUnavailable(value)) {
        throw new MappingError(
          `event ${declaration.name}: field "${field.name}" maps an unavailable column value ` +
            `(unchanged TOAST/LOB column, Debezium sent ${UNAVAILABLE_TEXT})`,
          declaration.name,
          field.name,
        );
      }
      // a field named "__proto__" is a field (plain assignment would set the prototype, losing the value)
      if (field.name === "__proto__") {
        Object.defineProperty(fields, field.name, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else fields[field.name] = value;
    }
    out.push({ declaration, key, fields });
  }
  return out;
}

/** Evaluates the `when`, the key or a field's expression (`field`: its name); errors name which. */
function evaluate(
  declaration: EventDeclaration,
  expression: Expression,
  vars: Bindings,
  part: "when" | "key" | "field",
  field: string | null,
): unknown {
  try {
    return expression.evaluate(vars);
  } catch (err) {
    const message = err instanceof ExpressionError ? err.message : String(err);
    const what = part === "field" ? `field "${field}"` : part;
    throw new MappingError(`event ${declaration.name}: ${what}: ${message}`, declaration.name, field, {
      cause: err,
    });
  }
}

function keyText(declaration: EventDeclaration, value: unknown): string {
  if (
    typeof value === "string" ||
    typeof value === "bigint" ||
    typeof value === "number" ||
    typeof value === "boolean"
  ) {
    const text = String(value);
    if (text.includes(UNAVAILABLE_TEXT)) {
      throw new MappingError(
        `event ${declaration.name}: key maps an unavailable column value`,
        declaration.name,
        null,
      );
    }
    return text;
  }
  throw new MappingError(
    `event ${declaration.name}: key must yield a string or number, got ${describe(value)}`,
    declaration.name,
    null,
  );
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "list";
  if (value instanceof Uint8Array) return "bytes";
  return typeof value === "object" ? "map" : `${typeof value} ${String(value)}`;
}

function carriesUnavailable(value: unknown): boolean {
  if (typeof value === "string") return value.includes(UNAVAILABLE_TEXT);
  if (value === UNAVAILABLE) return true;
  if (Array.isArray(value)) return value.some(carriesUnavailable);
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.values(value).some(carriesUnavailable);
  }
  return false;
}

/**
 * The CEL variables of a change (docs/transforms.md). Each is worked out when an expression first reads it and then
 * shared by every expression evaluated for the change; rows and lists are handed over already as the CEL
 * values @bufbuild/cel would make of them on every read (see celValue).
 */
export function bindingsFor(change: ChangeEvent): Bindings {
  return new ChangeBindings(change);
}

class ChangeBindings implements Bindings, RawRows {
  private beforeValue: unknown;
  private afterValue: unknown;
  private keyValue: unknown;
  private sourceValue: unknown;
  private changedValue: unknown;
  private txValue: unknown;
  private keyChangeValue: unknown;
  // the rows as CEL reads them (celRow), and whether each is a plain object (RawRows); null = not yet
  private beforeRow: RowSlot | null = null;
  private afterRow: RowSlot | null = null;
  private keyRow: RowSlot | null = null;
  private sourceRow: RowSlot | null = null;
  readonly op: string;
  constructor(private readonly change: ChangeEvent) {
    this.op = change.op;
  }
  private row(variable: "before" | "after" | "key" | "source"): RowSlot {
    switch (variable) {
      case "before":
        return (this.beforeRow ??= rowSlot(celRow(this.change.before)));
      case "after":
        return (this.afterRow ??= rowSlot(celRow(this.change.after)));
      case "key":
        return (this.keyRow ??= rowSlot(celRow(this.change.key)));
      case "source":
        return (this.sourceRow ??= rowSlot(this.change.source));
    }
  }
  [RAW_ROWS](variable: "before" | "after" | "key" | "source"): Record<string, unknown> | undefined {
    return this.row(variable).plain;
  }
  get before(): unknown {
    return (this.beforeValue ??= celRowValue(this.row("before")));
  }
  get after(): unknown {
    return (this.afterValue ??= celRowValue(this.row("after")));
  }
  get key(): unknown {
    return (this.keyValue ??= celRowValue(this.row("key")));
  }
  get source(): unknown {
    return (this.sourceValue ??= celRowValue(this.row("source")));
  }
  get changed(): unknown {
    return (this.changedValue ??= celValue(changedColumns(this.change.before, this.change.after)));
  }
  get ts_ms(): unknown {
    return this.change.envelopeTimes?.ts_ms ?? null;
  }
  get ts_us(): unknown {
    return this.change.envelopeTimes?.ts_us ?? null;
  }
  get ts_ns(): unknown {
    return this.change.envelopeTimes?.ts_ns ?? null;
  }
  get keyChange(): unknown {
    const kc = this.change.keyChange;
    return (this.keyChangeValue ??= kc ? celValue({ old: celValue(kc.old), new: celValue(kc.new) }) : null);
  }
  get tx(): unknown {
    const tx = this.change.transaction;
    return (this.txValue ??= tx
      ? celValue({ id: tx.id, total_order: tx.totalOrder, data_collection_order: tx.dataCollectionOrder })
      : null);
  }
}

interface RowSlot {
  row: Row | null;
  /** the row when it isPlainObject */
  plain: Row | undefined;
}

function rowSlot(row: Row | null): RowSlot {
  return { row, plain: isDataObject(row) ? row : undefined };
}

/**
 * A decoded row or struct/JSON object: plain data whatever its keys. Its columns may be named `constructor`,
 * `toString`, `__proto__`, `$typeName` …, which make @bufbuild/cel's toCel misread the object (isPlainObject
 * refuses them), so rows are handed to CEL as maps made here, nested objects included.
 */
function isDataObject(value: unknown): value is Row {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** celValue of a row (whose plainness is known already): a CEL map of its own columns. */
function celRowValue(slot: RowSlot): unknown {
  return slot.plain ? celDataMap(slot.plain) : slot.row;
}

function celDataMap(row: Row): unknown {
  const entries = new Map<string, CelInput>();
  for (const name of Object.keys(row)) entries.set(name, celNested(row[name]) as CelInput);
  return celMap(entries);
}

/** Nested objects of a row as CEL maps too (lists with objects in them as lists of those); the rest as is. */
function celNested(value: ColumnValue | undefined): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    return value.some((v) => v !== null && typeof v === "object")
      ? celList(value.map(celNested) as CelInput[])
      : value;
  }
  return isDataObject(value) ? celDataMap(value) : value;
}

/**
 * The CEL value @bufbuild/cel's toCel makes of a plain object (a map of its entries) or an array (a list),
 * made once instead of on every variable read; anything else is left for toCel as it is.
 */
function celValue(value: unknown): unknown {
  if (Array.isArray(value)) return celList(value as CelInput[]);
  if (isPlainObject(value)) return celMap(new Map(Object.entries(value as Record<string, CelInput>)));
  return value;
}

// CEL cannot carry our marker object, so unavailable columns become the placeholder text; the copy is only
// made for the rare rows that hold one.
function celRow(row: Row | null): Row | null {
  if (!row) return null;
  let copy: Row | null = null;
  for (const name in row) {
    if (row[name] === UNAVAILABLE) {
      copy ??= { ...row };
      copy[name] = UNAVAILABLE_TEXT;
    }
  }
  return copy ?? row;
}

/**
 * Columns whose value differs between before and after; empty when before is unknown. Only columns present in
 * both images are compared (a before-image of the key columns only, Oracle's without LOBs, says nothing about
 * the others), and unavailable values never count.
 */
export function changedColumns(before: Row | null, after: Row | null): string[] {
  if (!before || !after) return [];
  const names: string[] = [];
  for (const name in after) {
    if (!Object.hasOwn(before, name)) continue;
    const a = after[name];
    const b = before[name];
    if (a === UNAVAILABLE || b === UNAVAILABLE || a === undefined || b === undefined) continue;
    if (!sameValue(a, b)) names.push(name);
  }
  return names;
}

function sameValue(a: ColumnValue, b: ColumnValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, i) => sameValue(v, b[i] ?? null))
    );
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ra = a as Record<string, ColumnValue>;
  const rb = b as Record<string, ColumnValue>;
  return ka.length === kb.length && ka.every((k) => k in rb && sameValue(ra[k] ?? null, rb[k] ?? null));
}
