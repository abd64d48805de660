// The in-memory view of the table state (docs/state.md): the latest image of each primary key of the `state: rows`
// tables, applied in source order. It fills unavailable (TOAST/LOB) columns and missing before-images of a change
// from the previous image, answers lookup() synchronously, and records what the worker must write to the store
// (after publishing, before committing). Everything here is synchronous: the worker loads what a batch needs
// into the view first (load, loadHistory).
import { UNAVAILABLE, type ChangeEvent, type ColumnValue, type Row } from "../decode/change-event.js";
import type { Expression } from "./expression.js";
import { decodeRow, encodeRow, keyText, keyValues } from "./row-codec.js";
import type { LookupSource } from "./lookup.js";

/** A secondary index of a state table: `name: [expr, …]` over the row (`after`). */
export interface StateIndex {
  name: string;
  expressions: Expression[];
  line: number;
}

/** What a transform file's `state: rows` (and `index:`) declares. */
export interface StateDeclaration {
  table: string;
  indexes: StateIndex[];
  /** `primaryKey:` as declared (for `changecast check`); empty: not declared, the record key decides */
  primaryKey?: string[];
  file: string;
  line: number;
}

/** The key change of a change (Debezium's `__debezium.newkey` / `__debezium.oldkey` headers). */
export type KeyChange = NonNullable<ChangeEvent["keyChange"]>;

/** A change as the mapper sees it: the decoded change, filled from the state, and its key change. */
export type StatefulChange = ChangeEvent;

/** Where a change came from (its source record): the tie-breaker of its position, and what history is pruned by. */
export interface RecordRef {
  topic: string;
  partition: number;
  offset: string;
}

interface Entry {
  /** null: deleted */
  image: Row | null;
  position: string;
  /** the write sequence of the store that brought it (0: not from the store yet) */
  seq: number;
  /** the image before the change that made this entry, when applied here (a deleted old key of a key change) */
  previous?: Row | null;
}

/** A row change applied to the view, told to listeners (dependencies release parked children of it). */
export interface RowApplied {
  table: string;
  /** keyText of the primary key */
  pk: string;
  /** the new image, null when deleted */
  image: Row | null;
  previous: Row | null;
  change: ChangeEvent;
}
export type RowAppliedListener = (applied: RowApplied) => void;

/** A row change the store must get (its images encoded). */
export interface PendingRow {
  table: string;
  pk: string;
  image: string | null;
  position: string;
  prevImage: string | null;
  prevPosition: string | null;
  source: RecordRef;
}

export interface PendingWrites {
  rows: PendingRow[];
  truncates: { table: string; position: string }[];
  /** next source offset applied per partition */
  applied: Map<string, { topic: string; partition: number; next: bigint }>;
}

const POSITION_WIDTH = 20;
const pad = (digits: string) => digits.padStart(POSITION_WIDTH, "0");
const digitsOf = (text: string | bigint) => {
  const s = String(text);
  return /^\d+$/.test(s) ? s : "0";
};

/**
 * A change's position in the state: the source position (commit, change, order in the transaction) with the
 * source record's offset as tie-breaker (snapshot rows share one position; Oracle changes can share an SCN), as
 * fixed-width text so that text order is position order (in SQL too).
 */
export function statePosition(change: ChangeEvent, ref: RecordRef): string {
  const p = change.position;
  return [
    pad(digitsOf(p.commit)),
    pad(digitsOf(p.change)),
    pad(digitsOf(p.order)),
    pad(digitsOf(ref.offset)),
  ].join(".");
}

/** An input-order position (replay): every change is newer than the one before. */
function inputPosition(sequence: number): string {
  return pad(String(sequence));
}

export interface TableStateOptions {
  /**
   * "position": a change is applied only if its position is newer than the row's (redeliveries see the image
   * that preceded them, from the history); "input": every change is applied in the order given (replay).
   */
  ordering: "position" | "input";
}

/** The placeholder forms a decoder may leave as text: bytes columns in base64 / hex binary.handling.mode. */
const PLACEHOLDER = "__debezium_unavailable_value";
const PLACEHOLDER_TEXTS = new Set([
  PLACEHOLDER,
  Buffer.from(PLACEHOLDER).toString("base64"),
  Buffer.from(PLACEHOLDER).toString("hex"),
  Buffer.from(PLACEHOLDER).toString("hex").toUpperCase(),
]);

export function isUnavailable(value: ColumnValue | undefined): boolean {
  if (value === UNAVAILABLE) return true;
  return typeof value === "string" && PLACEHOLDER_TEXTS.has(value);
}

class StateTable {
  readonly rows = new Map<string, Entry>();
  /** index name → index key text → primary keys */
  readonly indexes = new Map<string, Map<string, Set<string>>>();
  /** key column names, once a change showed them */
  keyColumns: string[] | null = null;
  /** every row of the table is in `rows` (looked-up tables); else only the rows loaded for the batch */
  complete = false;
  constructor(readonly declaration: StateDeclaration) {
    for (const index of declaration.indexes) this.indexes.set(index.name, new Map());
  }
}

export class TableStateView implements LookupSource {
  private readonly tables = new Map<string, StateTable>();
  private readonly listeners: RowAppliedListener[] = [];
  /** the images that preceded the changes of this batch that were applied before (redeliveries) */
  private readonly history = new Map<string, { image: Row | null; position: string | null }>();
  private pending: PendingWrites = { rows: [], truncates: [], applied: new Map() };
  /** entries as they were before this batch changed them, to undo a batch that was not committed */
  private undo = new Map<string, { table: string; pk: string; entry: Entry | undefined }>();
  private sequence = 0;
  /** the index expressions are evaluated with this (the mapper's bindings of a row as `after`) */
  private indexKey: (expressions: Expression[], row: Row) => unknown[];

  constructor(
    declarations: readonly StateDeclaration[],
    private readonly options: TableStateOptions,
    indexKey: (expressions: Expression[], row: Row) => unknown[],
  ) {
    for (const d of declarations) this.tables.set(d.table, new StateTable(d));
    this.indexKey = indexKey;
  }

  /** Whether the table keeps state (`state: rows`). */
  has(table: string): boolean {
    return this.tables.has(table);
  }
  get tableNames(): string[] {
    return [...this.tables.keys()];
  }
  /** Tables whose every row is kept in memory (looked-up tables): deltas of other workers are polled for them. */
  markComplete(table: string): void {
    const t = this.tables.get(table);
    if (t) t.complete = true;
  }
  isComplete(table: string): boolean {
    return this.tables.get(table)?.complete ?? false;
  }

  onRowApplied(listener: RowAppliedListener): void {
    this.listeners.push(listener);
  }

  /** The primary key text of a change (from its record key), or null for a change without a key. */
  pkOf(change: ChangeEvent): string | null {
    if (change.key) return keyText(keyValues(change.key));
    // a bare Debezium value (replay input without the Kafka record) has no key: the declared primaryKey names it
    const columns = this.tables.get(change.table)?.declaration.primaryKey;
    const row = change.after ?? change.before;
    if (!columns?.length || !row) return null;
    const values = columns.map((c) => (Object.hasOwn(row, c) ? row[c] : undefined));
    return values.some((v) => v === undefined || v === null) ? null : keyText(values);
  }

  /** Whether `pk` of `table` is in memory. */
  hasRow(table: string, pk: string): boolean {
    return this.tables.get(table)?.rows.has(pk) ?? false;
  }
  /** The stored position of a row in memory, or null. */
  positionOf(table: string, pk: string): string | null {
    return this.tables.get(table)?.rows.get(pk)?.position ?? null;
  }

  /** Rows read from the store (the batch's keys, a bootstrap scan, other workers' writes): newer ones replace. */
  load(
    rows: readonly { table: string; pk: string; image: string | null; position: string; seq: number }[],
  ): void {
    for (const r of rows) {
      const t = this.tables.get(r.table);
      if (!t) continue;
      const current = t.rows.get(r.pk);
      if (current && (current.position > r.position || (current.seq >= r.seq && current.seq > 0))) continue;
      this.setEntry(t, r.pk, {
        image: r.image === null ? null : decodeRow(r.image),
        position: r.position,
        seq: r.seq,
      });
    }
  }

  /** History entries read from the store: the image that preceded an applied change (redeliveries). */
  loadHistory(
    entries: readonly {
      table: string;
      pk: string;
      position: string;
      prevImage: string | null;
      prevPosition: string | null;
    }[],
  ): void {
    for (const h of entries) {
      this.history.set(historyKey(h.table, h.pk, h.position), {
        image: h.prevImage === null ? null : decodeRow(h.prevImage),
        position: h.prevPosition,
      });
    }
  }

  /** Forgets the rows of tables that are not complete (they are loaded per batch; another worker may change them). */
  evictIncomplete(): void {
    for (const t of this.tables.values()) {
      if (t.complete) continue;
      t.rows.clear();
      for (const index of t.indexes.values()) index.clear();
    }
    this.history.clear();
  }

  /**
   * Applies a change of a `state: rows` table and returns it as the mapper should see it: unavailable columns
   * of `after` filled, `before` supplied when Debezium sent none or only the key. A change older than the row
   * (a redelivery) is not applied again: it sees the image that preceded it when it was applied.
   */
  apply(change: ChangeEvent, ref: RecordRef): StatefulChange {
    const t = this.tables.get(change.table);
    if (!t) return change;
    const keyChange = change.keyChange ?? null;
    const position =
      this.options.ordering === "input" ? inputPosition(++this.sequence) : statePosition(change, ref);
    if (change.op === "t") return this.truncate(t, change, position, ref);
    const pk = this.pkOf(change);
    if (pk === null) return change;
    if (!t.keyColumns)
      t.keyColumns = change.key ? Object.keys(change.key) : (t.declaration.primaryKey ?? null);
    const entry = t.rows.get(pk);
    if (entry && entry.position >= position) {
      // already applied (a redelivery): the image that preceded it then, if the history still has it
      const before = this.history.get(historyKey(t.declaration.table, pk, position));
      return enrich(change, before?.image ?? null, keyChange, null);
    }
    let previous = entry?.image ?? null;
    // the create half of a primary-key change continues the row of the old key
    if (!previous && keyChange && change.op === "c") previous = this.movedImage(t, keyChange);
    const enriched = enrich(change, previous, keyChange, t.keyColumns);
    const image = change.op === "d" ? null : (enriched.after ?? null);
    this.remember(t, pk, entry);
    // a deleted row keeps the image it had (the create half of a key change continues it); others need not
    this.setEntry(
      t,
      pk,
      image === null ? { image, position, seq: 0, previous } : { image, position, seq: 0 },
    );
    this.pending.rows.push({
      table: t.declaration.table,
      pk,
      image: image === null ? null : encodeRow(image),
      position,
      prevImage: previous === null ? null : encodeRow(previous),
      prevPosition: entry?.position ?? null,
      source: ref,
    });
    this.noteApplied(ref);
    for (const listener of this.listeners) {
      listener({ table: t.declaration.table, pk, image, previous, change: enriched });
    }
    return enriched;
  }

  /** The image the old key had before the delete half of a key change removed it. */
  private movedImage(t: StateTable, keyChange: KeyChange): Row | null {
    const oldPk = keyText(keyValues(keyChange.old));
    const old = t.rows.get(oldPk);
    if (!old) return null;
    if (old.image) return old.image;
    if (old.previous !== undefined) return old.previous;
    return this.history.get(historyKey(t.declaration.table, oldPk, old.position))?.image ?? null;
  }

  private truncate(t: StateTable, change: ChangeEvent, position: string, ref: RecordRef): StatefulChange {
    for (const [pk, entry] of t.rows) {
      if (entry.position >= position) continue;
      this.remember(t, pk, entry);
      this.setEntry(t, pk, { image: null, position, seq: 0 });
    }
    this.pending.truncates.push({ table: t.declaration.table, position });
    this.noteApplied(ref);
    return change;
  }

  private noteApplied(ref: RecordRef): void {
    const id = `${ref.topic}/${ref.partition}`;
    const next = BigInt(digitsOf(ref.offset)) + 1n;
    const seen = this.pending.applied.get(id);
    if (!seen || seen.next < next)
      this.pending.applied.set(id, { topic: ref.topic, partition: ref.partition, next });
  }

  private remember(t: StateTable, pk: string, entry: Entry | undefined): void {
    const id = `${t.declaration.table}\u0000${pk}`;
    if (!this.undo.has(id)) this.undo.set(id, { table: t.declaration.table, pk, entry });
  }

  private setEntry(t: StateTable, pk: string, entry: Entry | undefined): void {
    const old = t.rows.get(pk);
    if (t.indexes.size) {
      if (old?.image) this.unindex(t, pk, old.image);
      if (entry?.image) this.index(t, pk, entry.image);
    }
    if (entry) t.rows.set(pk, entry);
    else t.rows.delete(pk);
  }

  private index(t: StateTable, pk: string, row: Row): void {
    for (const index of t.declaration.indexes) {
      const key = this.indexText(index, row);
      if (key === null) continue;
      const map = t.indexes.get(index.name)!;
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      set.add(pk);
    }
  }

  private unindex(t: StateTable, pk: string, row: Row): void {
    for (const index of t.declaration.indexes) {
      const key = this.indexText(index, row);
      if (key === null) continue;
      const map = t.indexes.get(index.name)!;
      const set = map.get(key);
      set?.delete(pk);
      if (set && set.size === 0) map.delete(key);
    }
  }

  /** A row whose index expressions fail (a column it lacks) is not in that index. */
  private indexText(index: StateIndex, row: Row): string | null {
    try {
      return keyText(this.indexKey(index.expressions, row));
    } catch {
      return null;
    }
  }

  /** The writes of the changes applied since the last `written()`. */
  pendingWrites(): PendingWrites {
    return this.pending;
  }
  /** The pending writes are in the store: they can no longer be undone. */
  written(): void {
    this.pending = { rows: [], truncates: [], applied: new Map() };
    this.undo.clear();
  }
  get hasPending(): boolean {
    return this.pending.rows.length > 0 || this.pending.truncates.length > 0;
  }

  /** Undoes the changes applied since the last takePending (a batch that was not committed). */
  rollback(): void {
    for (const { table, pk, entry } of this.undo.values()) {
      const t = this.tables.get(table);
      if (t) this.setEntry(t, pk, entry);
    }
    this.undo.clear();
    this.pending = { rows: [], truncates: [], applied: new Map() };
  }

  // --- lookups (LookupSource) ---

  knowsTable(table: string): boolean {
    return this.tables.has(table);
  }

  lookup(table: string, key: unknown, index?: string): Row | null {
    const t = this.tables.get(table);
    if (!t) throw new Error(`lookup: table "${table}" does not declare state: rows`);
    if (index === undefined) {
      if (t.keyColumns && Array.isArray(key) && key.length !== t.keyColumns.length) {
        throw new Error(
          `lookup("${table}"): the key has ${key.length} values, the primary key has ` +
            `${t.keyColumns.length} column${t.keyColumns.length > 1 ? "s" : ""} (${t.keyColumns.join(", ")})`,
        );
      }
      return t.rows.get(keyText(key))?.image ?? null;
    }
    const map = t.indexes.get(index);
    if (!map) throw new Error(`lookup("${table}", …, "${index}"): no index "${index}"`);
    const set = map.get(keyText(key));
    if (!set || set.size === 0) return null;
    // several rows under one index key: the one with the smallest primary key, the same on every worker
    let first: string | null = null;
    for (const pk of set) if (first === null || pk < first) first = pk;
    return first === null ? null : (t.rows.get(first)?.image ?? null);
  }
}

function historyKey(table: string, pk: string, position: string): string {
  return `${table}\u0000${pk}\u0000${position}`;
}

/** Columns of a before-image that say nothing: null, the converter's fallback for NOT NULL columns, placeholders. */
function saysNothing(value: ColumnValue | undefined): boolean {
  return (
    value === null ||
    value === undefined ||
    value === "" ||
    value === 0 ||
    value === 0n ||
    value === false ||
    (value instanceof Uint8Array && value.length === 0) ||
    isUnavailable(value)
  );
}

/** A before-image that holds the key and nothing else (Postgres REPLICA IDENTITY DEFAULT delete). */
function keyOnly(before: Row, keyColumns: readonly string[] | null): boolean {
  if (!keyColumns) return false;
  for (const name of Object.keys(before)) {
    if (keyColumns.includes(name)) continue;
    if (!saysNothing(before[name])) return false;
  }
  return true;
}

/** `after` with unavailable columns taken from `previous` (null when there is nothing to fill). */
function filled(row: Row | null, previous: Row | null): Row | null {
  if (!row || !previous) return null;
  let copy: Row | null = null;
  for (const name of Object.keys(row)) {
    if (!isUnavailable(row[name])) continue;
    const value = previous[name];
    if (value === undefined) continue;
    copy ??= { ...row };
    copy[name] = value;
  }
  return copy;
}

/** The change with `after` filled and `before` supplied from `previous`, and its key change. */
function enrich(
  change: ChangeEvent,
  previous: Row | null,
  keyChange: KeyChange | null,
  keyColumns: readonly string[] | null,
): StatefulChange {
  const after = filled(change.after, previous);
  let before: Row | null | undefined;
  if (previous && (change.op === "u" || change.op === "d" || (change.op === "c" && keyChange))) {
    if (
      change.before === null ||
      keyOnly(change.before, keyColumns ?? (change.key ? Object.keys(change.key) : null))
    ) {
      before = previous;
    } else {
      // Oracle LOBs: the before-image carries the placeholder too
      before = filled(change.before, previous) ?? undefined;
    }
  }
  if (!after && before === undefined) return change;
  return { ...change, ...(after ? { after } : {}), ...(before !== undefined ? { before } : {}) };
}
