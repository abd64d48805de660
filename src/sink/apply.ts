// Applies row operations to the target inside the caller's transaction: the rows' marks (position.ts), the
// tombstones of deleted rows and the parked updates are read for the keys of the batch, the operations are
// folded per key in the order read, and each table is written with one multi-row statement per column set
// (INSERT … ON CONFLICT … DO UPDATE, which both Postgres and SQLite have), deletes first.
//
// An update of a row that does not exist yet is parked, not dropped: after a migration the row's creating event
// may come from the new major's topic later than an update from the old topic (the order of one key holds
// within a topic only). When an upsert creates the row, its parked updates that are later than it are applied
// right after it, in position order.
import type { Knex } from "knex";
import { advance, applies, parseIds, type RowMark } from "./position.js";
import { keyText, type RowOp } from "./project.js";
import type { TableDef } from "./sink-config.js";
import type { SinkStats } from "./stats.js";
import { PENDING_TABLE, TOMBSTONES_TABLE } from "./target.js";

/** keys per SELECT / rows per INSERT: well under SQLite's 32766 and Postgres' 65535 bind parameters */
const CHUNK = 400;

interface KeyState {
  keyValues: unknown[];
  /** the row exists (in the database or after this batch's operations) */
  exists: boolean;
  /** the row existed before the batch */
  existed: boolean;
  mark: RowMark | null;
  applied: number;
  /** columns set by this batch since the row was (re)created or loaded */
  set: Record<string, unknown> | null;
  /** a delete was applied in this batch */
  deleted: boolean;
  /** the mark advanced in this batch */
  touched: boolean;
  hadTombstone: boolean;
  /** parked updates of the row, in position order */
  pending: Parked[];
  /** the parked updates in the database for this key are to be replaced by `pending` */
  pendingChanged: boolean;
  hadPending: boolean;
}

interface Parked {
  position: string;
  ceId: string;
  columns: Record<string, unknown>;
}

/** The outcome of one batch, counted into the stats only when its transaction commits. */
export interface ApplyCounts {
  applied: { table: string; action: RowOp["action"] }[];
  skippedOlder: number;
  /** updates parked until their row exists */
  parked: number;
}

export async function applyOps(trx: Knex.Transaction, sink: string, ops: RowOp[]): Promise<ApplyCounts> {
  const counts: ApplyCounts = { applied: [], skippedOlder: 0, parked: 0 };
  const byTable = new Map<TableDef, RowOp[]>();
  for (const op of ops) byTable.set(op.table, [...(byTable.get(op.table) ?? []), op]);
  for (const [table, tableOps] of byTable) await applyTable(trx, sink, table, tableOps, counts);
  return counts;
}

export function countInto(stats: SinkStats, counts: ApplyCounts): void {
  for (const a of counts.applied) stats.countApplied(a.table, a.action);
  stats.skippedOlder += counts.skippedOlder;
  stats.parked += counts.parked;
}

async function applyTable(
  trx: Knex.Transaction,
  sink: string,
  table: TableDef,
  ops: RowOp[],
  counts: ApplyCounts,
): Promise<void> {
  const states = new Map<string, KeyState>();
  for (const op of ops)
    if (!states.has(op.keyText))
      states.set(op.keyText, {
        keyValues: op.keyValues,
        exists: false,
        existed: false,
        mark: null,
        applied: 0,
        set: null,
        deleted: false,
        touched: false,
        hadTombstone: false,
        pending: [],
        pendingChanged: false,
        hadPending: false,
      });
  await loadMarks(trx, sink, table, states);

  for (const op of ops) {
    const s = states.get(op.keyText)!;
    if (!applies(s.mark, op.position, op.ceId)) {
      counts.skippedOlder++;
      continue;
    }
    if (op.action === "update" && !s.exists) {
      if (!s.pending.some((p) => p.ceId === op.ceId)) {
        s.pending.push({ position: op.position, ceId: op.ceId, columns: op.columns });
        s.pending.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
        s.pendingChanged = true;
        counts.parked++;
      }
      continue;
    }
    apply(s, op.action, op.position, op.ceId, op.columns);
    counts.applied.push({ table: table.name, action: op.action });
    if (op.action === "delete" && s.pending.length) {
      // updates parked for the row's earlier life: obsolete
      s.pending = [];
      s.pendingChanged = true;
    }
    if (op.action === "upsert" && s.pending.length) {
      for (const p of s.pending)
        if (applies(s.mark, p.position, p.ceId)) {
          apply(s, "update", p.position, p.ceId, p.columns);
          counts.applied.push({ table: table.name, action: "update" });
        }
      s.pending = [];
      s.pendingChanged = true;
    }
  }

  const touched = [...states.values()].filter((s) => s.touched);
  const deletes = touched.filter((s) => s.deleted && s.existed);
  for (let i = 0; i < deletes.length; i += CHUNK)
    await whereKeys(trx(table.name), table, deletes.slice(i, i + CHUNK)).delete();

  // upserts, grouped by the set of columns they write
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const s of touched) {
    if (!s.exists) continue;
    // no prototype: a column named __proto__ (or constructor) is a column like any other
    const row = Object.create(null) as Record<string, unknown>;
    table.keyColumns.forEach((c, i) => (row[c] = s.keyValues[i]));
    Object.assign(row, s.set ?? {});
    row.changecast_position = s.mark!.position;
    row.changecast_event_ids = s.mark!.ids.join(" ");
    row.changecast_applied = s.applied;
    const signature = Object.keys(row).join(",");
    groups.set(signature, [...(groups.get(signature) ?? []), row]);
  }
  for (const rows of groups.values()) {
    const merge = Object.keys(rows[0]!).filter((c) => !table.keyColumns.includes(c));
    for (let i = 0; i < rows.length; i += CHUNK)
      await trx(table.name)
        .insert(rows.slice(i, i + CHUNK))
        .onConflict(table.keyColumns)
        .merge(merge);
  }

  // tombstones: a deleted row keeps its mark, so an older event delivered again cannot bring it back
  const gone = touched.filter((s) => !s.exists);
  const tombstones = gone.map((s) => ({
    sink,
    table_name: table.name,
    row_key: keyText(s.keyValues),
    changecast_position: s.mark!.position,
    changecast_event_ids: s.mark!.ids.join(" "),
    changecast_applied: s.applied,
  }));
  for (let i = 0; i < tombstones.length; i += CHUNK)
    await trx(TOMBSTONES_TABLE)
      .insert(tombstones.slice(i, i + CHUNK))
      .onConflict(["sink", "table_name", "row_key"])
      .merge(["changecast_position", "changecast_event_ids", "changecast_applied"]);
  await writePending(
    trx,
    sink,
    table,
    [...states.values()].filter((s) => s.pendingChanged),
  );
  const revived = touched.filter((s) => s.exists && s.hadTombstone).map((s) => keyText(s.keyValues));
  for (let i = 0; i < revived.length; i += CHUNK)
    await trx(TOMBSTONES_TABLE)
      .where({ sink, table_name: table.name })
      .whereIn("row_key", revived.slice(i, i + CHUNK))
      .delete();
}

function apply(
  s: KeyState,
  action: RowOp["action"],
  position: string,
  ceId: string,
  columns: Record<string, unknown>,
): void {
  if (action === "delete") {
    s.exists = false;
    s.set = null;
    s.deleted = true;
  } else {
    s.exists = true;
    s.set = Object.assign(Object.create(null) as Record<string, unknown>, s.set, columns);
  }
  s.mark = advance(s.mark, position, ceId);
  s.applied++;
  s.touched = true;
}

/** Parked updates' columns as JSON (bytes as base64, bigints as text: as the drivers bind them). */
function columnsText(columns: Record<string, unknown>): string {
  return JSON.stringify(columns, (_k, v: unknown) =>
    typeof v === "bigint"
      ? v.toString()
      : v && typeof v === "object" && (v as { type?: unknown }).type === "Buffer"
        ? { $base64: Buffer.from((v as { data: number[] }).data).toString("base64") }
        : v,
  );
}

function columnsOf(text: string): Record<string, unknown> {
  return JSON.parse(text, (_k, v: unknown) =>
    v && typeof v === "object" && typeof (v as { $base64?: unknown }).$base64 === "string"
      ? Buffer.from((v as { $base64: string }).$base64, "base64")
      : v,
  ) as Record<string, unknown>;
}

async function writePending(
  trx: Knex.Transaction,
  sink: string,
  table: TableDef,
  states: KeyState[],
): Promise<void> {
  const clear = states.filter((s) => s.hadPending).map((s) => keyText(s.keyValues));
  for (let i = 0; i < clear.length; i += CHUNK)
    await trx(PENDING_TABLE)
      .where({ sink, table_name: table.name })
      .whereIn("row_key", clear.slice(i, i + CHUNK))
      .delete();
  const rows = states.flatMap((s) =>
    s.pending.map((p) => ({
      sink,
      table_name: table.name,
      row_key: keyText(s.keyValues),
      ce_id: p.ceId,
      changecast_position: p.position,
      columns: columnsText(p.columns),
    })),
  );
  for (let i = 0; i < rows.length; i += CHUNK) await trx(PENDING_TABLE).insert(rows.slice(i, i + CHUNK));
}

function whereKeys<T extends Knex.QueryBuilder>(q: T, table: TableDef, states: KeyState[]): T {
  if (table.keyColumns.length === 1)
    return q.whereIn(table.keyColumns[0]!, states.map((s) => s.keyValues[0]) as readonly string[]) as T;
  return q.whereIn(table.keyColumns, states.map((s) => s.keyValues) as readonly string[][]) as T;
}

async function loadMarks(
  trx: Knex.Transaction,
  sink: string,
  table: TableDef,
  states: Map<string, KeyState>,
): Promise<void> {
  const all = [...states.values()];
  for (let i = 0; i < all.length; i += CHUNK) {
    const chunk = all.slice(i, i + CHUNK);
    const rows = (await whereKeys(
      // key columns under aliases: a driver builds its rows by assignment, and `row.__proto__ = …` is no column
      trx(table.name).select([
        Object.fromEntries(table.keyColumns.map((c, i) => [`changecast_key_${i}`, c])),
        "changecast_position",
        "changecast_event_ids",
        "changecast_applied",
      ]),
      table,
      chunk,
    )) as Record<string, unknown>[];
    for (const r of rows) {
      const s = states.get(keyText(table.keyColumns.map((_c, i) => r[`changecast_key_${i}`])));
      if (!s) continue;
      s.exists = s.existed = true;
      s.mark = r.changecast_position
        ? { position: String(r.changecast_position), ids: parseIds(r.changecast_event_ids as string) }
        : null;
      s.applied = Number(r.changecast_applied ?? 0);
    }
    const dead = (await trx(TOMBSTONES_TABLE)
      .where({ sink, table_name: table.name })
      .whereIn(
        "row_key",
        chunk.map((s) => keyText(s.keyValues)),
      )) as {
      row_key: string;
      changecast_position: string;
      changecast_event_ids: string;
      changecast_applied: string | number;
    }[];
    for (const d of dead) {
      const s = states.get(d.row_key);
      if (!s || s.exists) continue;
      s.mark = { position: d.changecast_position, ids: parseIds(d.changecast_event_ids) };
      s.applied = Number(d.changecast_applied);
      s.hadTombstone = true;
    }
    const parked = (await trx(PENDING_TABLE)
      .where({ sink, table_name: table.name })
      .whereIn(
        "row_key",
        chunk.map((s) => keyText(s.keyValues)),
      )
      .orderBy(["row_key", "changecast_position"])) as {
      row_key: string;
      ce_id: string;
      changecast_position: string;
      columns: string;
    }[];
    for (const p of parked) {
      const s = states.get(p.row_key);
      if (!s) continue;
      s.hadPending = true;
      s.pending.push({ position: p.changecast_position, ceId: p.ce_id, columns: columnsOf(p.columns) });
    }
  }
}
