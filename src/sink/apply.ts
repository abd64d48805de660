// Applies row operations to the target inside the caller's transaction: the rows' marks (position.ts) and the
// tombstones of deleted rows are read for the keys of the batch, the operations are folded per key in publish
// order, and each table is written with one multi-row statement per column set (INSERT … ON CONFLICT … DO UPDATE,
// which both Postgres and SQLite have), deletes first.
import type { Knex } from "knex";
import { advance, applies, parseIds, type RowMark } from "./position.js";
import { keyText, type RowOp } from "./project.js";
import type { TableDef } from "./sink-config.js";
import type { SinkStats } from "./stats.js";
import { TOMBSTONES_TABLE } from "./target.js";

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
}

/** The outcome of one batch, counted into the stats only when its transaction commits. */
export interface ApplyCounts {
  applied: { table: string; action: RowOp["action"] }[];
  skippedOlder: number;
  missingRow: number;
}

export async function applyOps(trx: Knex.Transaction, sink: string, ops: RowOp[]): Promise<ApplyCounts> {
  const counts: ApplyCounts = { applied: [], skippedOlder: 0, missingRow: 0 };
  const byTable = new Map<TableDef, RowOp[]>();
  for (const op of ops) byTable.set(op.table, [...(byTable.get(op.table) ?? []), op]);
  for (const [table, tableOps] of byTable) await applyTable(trx, sink, table, tableOps, counts);
  return counts;
}

export function countInto(stats: SinkStats, counts: ApplyCounts): void {
  for (const a of counts.applied) stats.countApplied(a.table, a.action);
  stats.skippedOlder += counts.skippedOlder;
  stats.missingRow += counts.missingRow;
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
      });
  await loadMarks(trx, sink, table, states);

  for (const op of ops) {
    const s = states.get(op.keyText)!;
    if (!applies(s.mark, op.position, op.ceId)) {
      counts.skippedOlder++;
      continue;
    }
    if (op.action === "update" && !s.exists) {
      counts.missingRow++;
      continue;
    }
    if (op.action === "delete") {
      s.exists = false;
      s.set = null;
      s.deleted = true;
    } else {
      s.exists = true;
      s.set = { ...(s.set ?? {}), ...op.columns };
    }
    s.mark = advance(s.mark, op.position, op.ceId);
    s.applied++;
    s.touched = true;
    counts.applied.push({ table: table.name, action: op.action });
  }

  const touched = [...states.values()].filter((s) => s.touched);
  const deletes = touched.filter((s) => s.deleted && s.existed);
  for (let i = 0; i < deletes.length; i += CHUNK)
    await whereKeys(trx(table.name), table, deletes.slice(i, i + CHUNK)).delete();

  // upserts, grouped by the set of columns they write
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const s of touched) {
    if (!s.exists) continue;
    const row: Record<string, unknown> = {};
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
  const revived = touched.filter((s) => s.exists && s.hadTombstone).map((s) => keyText(s.keyValues));
  for (let i = 0; i < revived.length; i += CHUNK)
    await trx(TOMBSTONES_TABLE)
      .where({ sink, table_name: table.name })
      .whereIn("row_key", revived.slice(i, i + CHUNK))
      .delete();
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
      trx(table.name).select([
        ...table.keyColumns,
        "changecast_position",
        "changecast_event_ids",
        "changecast_applied",
      ]),
      table,
      chunk,
    )) as Record<string, unknown>[];
    for (const r of rows) {
      const s = states.get(keyText(table.keyColumns.map((c) => r[c])));
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
  }
}
