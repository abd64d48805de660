// The table state of `state: rows` transform files (docs/state.md): the latest image of every primary key, the
// image that preceded each applied change (so that a redelivered change sees the same one), a write sequence
// that other workers poll, and the source offsets applied so far. Rows are opaque here: the primary key, the
// image and the position are text made by src/map/table-state.ts; positions compare as text.
import type { Knex } from "knex";
import {
  TABLE_STATE_HISTORY,
  TABLE_STATE_OFFSETS,
  TABLE_STATE_ROWS,
  TABLE_STATE_SEQ,
} from "./migrations/table-state.js";

/** A row of the table state as stored: `image` null for a deleted row. */
export interface StoredRow {
  table: string;
  pk: string;
  image: string | null;
  position: string;
  seq: number;
}

/** The image that preceded an applied change (the change's position). */
export interface StoredHistory {
  table: string;
  pk: string;
  position: string;
  prevImage: string | null;
  prevPosition: string | null;
}

/** Where a change came from: history is pruned once this offset is committed. */
export interface SourceRef {
  topic: string;
  partition: number;
  /** Kafka offset (embedded: the file line) as a decimal string */
  offset: string;
}

/** One applied row change: the new image (null: deleted) and the one it replaced. */
export interface RowWrite {
  table: string;
  pk: string;
  image: string | null;
  position: string;
  prevImage: string | null;
  prevPosition: string | null;
  source: SourceRef;
}

/** A truncate: every row of the table older than `position` is deleted. */
export interface TruncateWrite {
  table: string;
  position: string;
}

/** What one batch writes, in one store transaction. */
export interface StateWriteBatch {
  rows: RowWrite[];
  truncates: TruncateWrite[];
  /** next offset applied per source partition (bootstrap resumes there) */
  applied: { topic: string; partition: number; next: string }[];
  /**
   * The source records of these partitions below `below` are committed: a key this batch writes again no longer
   * needs its history entries from them (its new entry is the latest)
   */
  prune: { topic: string; partition: number; below: string }[];
}

/** The port the worker uses; KnexTableStateStore is the SQLite/Postgres adapter. */
export interface TableStateStore {
  /** the stored rows of `pks` (missing keys are absent) */
  rows(table: string, pks: readonly string[]): Promise<StoredRow[]>;
  /** every stored row of the table, in pages (bootstrap of a looked-up table) */
  scan(table: string, afterPk: string | null, limit: number): Promise<StoredRow[]>;
  /** the history entries of (pk, position) pairs that exist */
  history(table: string, entries: readonly { pk: string; position: string }[]): Promise<StoredHistory[]>;
  /** rows of `tables` written after `seq` (by any worker), and the sequence they bring the reader to */
  changesSince(seq: number, tables: readonly string[]): Promise<{ rows: StoredRow[]; seq: number }>;
  /** the highest committed write sequence */
  currentSeq(): Promise<number>;
  /** applies a batch atomically: rows only where newer, history, truncates, applied offsets, pruning */
  write(batch: StateWriteBatch): Promise<void>;
  /** next offset applied per partition of `topics` ("topic/partition" → offset) */
  appliedOffsets(topics: readonly string[]): Promise<Map<string, bigint>>;
}

/** knex rows: bigint columns come back as strings on Postgres, numbers on SQLite. */
interface RowRecord {
  tbl: string;
  pk: string;
  image: string | null;
  position: string;
  seq: string | number;
}

const CHUNK = 200;

export class KnexTableStateStore implements TableStateStore {
  constructor(
    private readonly knex: Knex,
    private readonly pipeline: string,
  ) {}

  async rows(table: string, pks: readonly string[]): Promise<StoredRow[]> {
    const out: StoredRow[] = [];
    for (let i = 0; i < pks.length; i += CHUNK) {
      const rows: RowRecord[] = await this.knex(TABLE_STATE_ROWS)
        .select("tbl", "pk", "image", "position", "seq")
        .where({ pipeline: this.pipeline, tbl: table })
        .whereIn("pk", pks.slice(i, i + CHUNK));
      out.push(...rows.map(toStoredRow));
    }
    return out;
  }

  async scan(table: string, afterPk: string | null, limit: number): Promise<StoredRow[]> {
    const query = this.knex(TABLE_STATE_ROWS)
      .select("tbl", "pk", "image", "position", "seq")
      .where({ pipeline: this.pipeline, tbl: table })
      .orderBy("pk")
      .limit(limit);
    if (afterPk !== null) void query.andWhere("pk", ">", afterPk);
    const rows: RowRecord[] = await query;
    return rows.map(toStoredRow);
  }

  async history(
    table: string,
    entries: readonly { pk: string; position: string }[],
  ): Promise<StoredHistory[]> {
    const out: StoredHistory[] = [];
    const pks = [...new Set(entries.map((e) => e.pk))];
    const wanted = new Set(entries.map((e) => `${e.pk}\u0000${e.position}`));
    for (let i = 0; i < pks.length; i += CHUNK) {
      const rows: {
        pk: string;
        position: string;
        prev_image: string | null;
        prev_position: string | null;
      }[] = await this.knex(TABLE_STATE_HISTORY)
        .select("pk", "position", "prev_image", "prev_position")
        .where({ pipeline: this.pipeline, tbl: table })
        .whereIn("pk", pks.slice(i, i + CHUNK));
      for (const r of rows) {
        if (!wanted.has(`${r.pk}\u0000${r.position}`)) continue;
        out.push({
          table,
          pk: r.pk,
          position: r.position,
          prevImage: r.prev_image,
          prevPosition: r.prev_position,
        });
      }
    }
    return out;
  }

  async changesSince(seq: number, tables: readonly string[]): Promise<{ rows: StoredRow[]; seq: number }> {
    if (tables.length === 0) return { rows: [], seq: await this.currentSeq() };
    // the sequence first: a write committed after this read is seen by the next poll, never skipped
    const upTo = await this.currentSeq();
    if (upTo <= seq) return { rows: [], seq };
    const rows: RowRecord[] = await this.knex(TABLE_STATE_ROWS)
      .select("tbl", "pk", "image", "position", "seq")
      .where({ pipeline: this.pipeline })
      .andWhere("seq", ">", seq)
      .andWhere("seq", "<=", upTo)
      .whereIn("tbl", [...tables]);
    return { rows: rows.map(toStoredRow), seq: upTo };
  }

  async currentSeq(): Promise<number> {
    const row = (await this.knex(TABLE_STATE_SEQ).where({ pipeline: this.pipeline }).first("seq")) as
      { seq: string | number } | undefined;
    return row ? Number(row.seq) : 0;
  }

  async write(batch: StateWriteBatch): Promise<void> {
    if (!batch.rows.length && !batch.truncates.length && !batch.applied.length && !batch.prune.length) return;
    await this.knex.transaction(async (trx) => {
      // one sequence number per write, taken under the row lock of the counter (held until commit), so writes
      // commit in sequence order and a reader that saw seq N has seen every write up to N
      await trx.raw(
        `INSERT INTO ${TABLE_STATE_SEQ} (pipeline, seq) VALUES (?, 0) ON CONFLICT (pipeline) DO NOTHING`,
        [this.pipeline],
      );
      await trx(TABLE_STATE_SEQ).where({ pipeline: this.pipeline }).increment("seq", 1);
      const seqRow = (await trx(TABLE_STATE_SEQ).where({ pipeline: this.pipeline }).first("seq")) as {
        seq: string | number;
      };
      const seq = Number(seqRow.seq);
      for (const t of batch.truncates) {
        await trx(TABLE_STATE_ROWS)
          .where({ pipeline: this.pipeline, tbl: t.table })
          .andWhere("position", "<", t.position)
          .update({ image: null, position: t.position, seq });
      }
      await this.writeRows(trx, batch.rows, seq);
      await this.writeHistory(trx, batch.rows);
      for (const a of batch.applied) {
        await trx.raw(
          `INSERT INTO ${TABLE_STATE_OFFSETS} (pipeline, topic, partition, next_offset) VALUES (?, ?, ?, ?) ` +
            `ON CONFLICT (pipeline, topic, partition) DO UPDATE SET next_offset = excluded.next_offset ` +
            `WHERE ${TABLE_STATE_OFFSETS}.next_offset < excluded.next_offset`,
          [this.pipeline, a.topic, a.partition, a.next],
        );
      }
      for (const p of batch.prune) await this.prune(trx, p, batch.rows);
    });
  }

  /** The latest write per key, each only where it is newer than the stored row. */
  private async writeRows(trx: Knex.Transaction, rows: readonly RowWrite[], seq: number): Promise<void> {
    const latest = new Map<string, RowWrite>();
    for (const r of rows) {
      const id = `${r.table}\u0000${r.pk}`;
      const seen = latest.get(id);
      if (!seen || seen.position < r.position) latest.set(id, r);
    }
    const list = [...latest.values()];
    for (let i = 0; i < list.length; i += CHUNK) {
      const chunk = list.slice(i, i + CHUNK);
      await trx.raw(
        `INSERT INTO ${TABLE_STATE_ROWS} (pipeline, tbl, pk, image, position, seq) VALUES ` +
          chunk.map(() => "(?, ?, ?, ?, ?, ?)").join(", ") +
          ` ON CONFLICT (pipeline, tbl, pk) DO UPDATE SET image = excluded.image, ` +
          `position = excluded.position, seq = excluded.seq ` +
          `WHERE ${TABLE_STATE_ROWS}.position < excluded.position`,
        chunk.flatMap((r) => [this.pipeline, r.table, r.pk, r.image, r.position, seq]),
      );
    }
  }

  private async writeHistory(trx: Knex.Transaction, rows: readonly RowWrite[]): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      await trx.raw(
        `INSERT INTO ${TABLE_STATE_HISTORY} ` +
          `(pipeline, tbl, pk, position, prev_image, prev_position, topic, partition, record_offset) VALUES ` +
          chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ") +
          ` ON CONFLICT (pipeline, tbl, pk, position) DO NOTHING`,
        chunk.flatMap((r) => [
          this.pipeline,
          r.table,
          r.pk,
          r.position,
          r.prevImage,
          r.prevPosition,
          r.source.topic,
          r.source.partition,
          r.source.offset,
        ]),
      );
    }
  }

  /**
   * History entries of committed records are no longer needed for redeliveries of the group, once a newer change
   * of their key has an entry: the latest entry of each key is kept, because Debezium itself may send the last
   * changes again after a connector restart (new offsets, same positions) and those must still see the image
   * that preceded them. Only keys this batch wrote are looked at, so the cost is the batch's, not the table's.
   */
  private async prune(
    trx: Knex.Transaction,
    p: { topic: string; partition: number; below: string },
    rows: readonly RowWrite[],
  ): Promise<void> {
    const byTable = new Map<string, Set<string>>();
    for (const r of rows) {
      if (r.source.topic !== p.topic || r.source.partition !== p.partition) continue;
      let set = byTable.get(r.table);
      if (!set) byTable.set(r.table, (set = new Set()));
      set.add(r.pk);
    }
    for (const [table, set] of byTable) {
      const pks = [...set];
      for (let i = 0; i < pks.length; i += CHUNK) {
        await trx(TABLE_STATE_HISTORY)
          .where({ pipeline: this.pipeline, tbl: table, topic: p.topic, partition: p.partition })
          .andWhere("record_offset", "<", p.below)
          .whereIn("pk", pks.slice(i, i + CHUNK))
          .delete();
      }
    }
  }

  async appliedOffsets(topics: readonly string[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (!topics.length) return out;
    const rows: { topic: string; partition: number; next_offset: string | number }[] = await this.knex(
      TABLE_STATE_OFFSETS,
    )
      .select("topic", "partition", "next_offset")
      .where({ pipeline: this.pipeline })
      .whereIn("topic", [...topics]);
    for (const r of rows) out.set(`${r.topic}/${r.partition}`, BigInt(String(r.next_offset)));
    return out;
  }
}

function toStoredRow(r: RowRecord): StoredRow {
  return { table: r.tbl, pk: r.pk, image: r.image, position: r.position, seq: Number(r.seq) };
}
