// Held changes in the state store (docs/state.md): source records parked until their parent row arrives, and
// the records of transactions being aggregated. The store keeps the source record itself (key, value, headers),
// so that a release maps it exactly as it would have been mapped when it arrived.
import type { Knex } from "knex";
import { HELD_TABLE } from "./migrations/held.js";

export type HeldKind = "park" | "tx" | "txdone";

/** A held source record, as stored. */
export interface HeldRow {
  kind: HeldKind;
  topic: string;
  partition: number;
  offset: string;
  /** park: parent table and key; tx/txdone: the transaction */
  group: string;
  /** park: child table and key; tx: the change's table ("" for the END record) */
  item: string;
  sourceTimeMs: number;
  heldAtMs: number;
  /** the source record as JSON (heldRecordText); null when not loaded or txdone */
  record: string | null;
  /** coordinates of the source record whose processing released it, or null while held */
  releasedBy: string | null;
  /** how it was released: released | publish | dead-letter | aggregated | partial */
  releasedAs: string | null;
}

/** The writes of one batch, applied in one transaction after its outputs are published, before its commit. */
export interface HeldWrites {
  /** new held rows (a row already held is kept as it is) */
  inserts: HeldRow[];
  /** rows released (marked, kept until the releasing record's offset is committed) */
  marks: { kind: HeldKind; topic: string; partition: number; offset: string; by: string; as: string }[];
  /** rows to forget */
  deletes: { kind: HeldKind; topic: string; partition: number; offset: string }[];
}

interface Record_ {
  kind: string;
  topic: string;
  partition: number | string;
  offset: string;
  grp: string;
  item: string;
  source_time_ms: number | string;
  held_at_ms: number | string;
  record?: string | null;
  released_by: string | null;
  released_as: string | null;
}

const CHUNK = 200;

export class HeldStore {
  constructor(
    private readonly knex: Knex,
    private readonly pipeline: string,
  ) {}

  /** Every held row of the pipeline; without the records (`withRecords` false) to see what changed cheaply. */
  async list(withRecords: boolean): Promise<HeldRow[]> {
    const columns = [
      "kind",
      "topic",
      "partition",
      "offset",
      "grp",
      "item",
      "source_time_ms",
      "held_at_ms",
      "released_by",
      "released_as",
      ...(withRecords ? ["record"] : []),
    ];
    const rows: Record_[] = await this.knex(HELD_TABLE)
      .select(columns)
      .where({ pipeline: this.pipeline })
      .orderBy([
        { column: "source_time_ms" },
        { column: "topic" },
        { column: "partition" },
        { column: "offset" },
      ]);
    return rows.map(toRow);
  }

  /** The records of the given rows. */
  async records(
    ids: readonly { kind: HeldKind; topic: string; partition: number; offset: string }[],
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const rows: Record_[] = await this.knex(HELD_TABLE)
        .select("kind", "topic", "partition", "offset", "record")
        .where({ pipeline: this.pipeline })
        .andWhere((q) => {
          for (const id of chunk)
            void q.orWhere({ kind: id.kind, topic: id.topic, partition: id.partition, offset: id.offset });
        });
      for (const r of rows)
        if (r.record) out.set(heldId(r.kind, r.topic, Number(r.partition), r.offset), r.record);
    }
    return out;
  }

  async write(writes: HeldWrites): Promise<void> {
    if (!writes.inserts.length && !writes.marks.length && !writes.deletes.length) return;
    await this.knex.transaction(async (trx) => {
      for (let i = 0; i < writes.inserts.length; i += CHUNK) {
        const rows = writes.inserts.slice(i, i + CHUNK).map((r) => ({
          pipeline: this.pipeline,
          kind: r.kind,
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          grp: toText(r.group),
          item: toText(r.item),
          source_time_ms: r.sourceTimeMs,
          held_at_ms: r.heldAtMs,
          record: r.record,
          released_by: r.releasedBy,
          released_as: r.releasedAs,
        }));
        await trx(HELD_TABLE)
          .insert(rows)
          .onConflict(["pipeline", "kind", "topic", "partition", "offset"])
          .ignore();
      }
      for (const m of writes.marks) {
        await trx(HELD_TABLE)
          .where({
            pipeline: this.pipeline,
            kind: m.kind,
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
          })
          .update({ released_by: m.by, released_as: m.as });
      }
      for (const d of writes.deletes) {
        await trx(HELD_TABLE)
          .where({
            pipeline: this.pipeline,
            kind: d.kind,
            topic: d.topic,
            partition: d.partition,
            offset: d.offset,
          })
          .delete();
      }
    });
  }

  /** Forgets the evaluated transactions (`txdone`) older than `beforeMs` (source time). */
  async forgetDone(beforeMs: number): Promise<void> {
    await this.knex(HELD_TABLE)
      .where({ pipeline: this.pipeline, kind: "txdone" })
      .andWhere("source_time_ms", "<", beforeMs)
      .delete();
  }

  /**
   * Forgets released rows whose releasing record lies below `below` of its partition (that offset is committed:
   * it will not be redelivered, so its release will not be repeated).
   */
  async forgetReleased(
    partitions: readonly { topic: string; partition: number; below: bigint }[],
  ): Promise<number> {
    if (!partitions.length) return 0;
    const rows: {
      kind: string;
      topic: string;
      partition: number | string;
      offset: string;
      released_by: string;
    }[] = await this.knex(HELD_TABLE)
      .select("kind", "topic", "partition", "offset", "released_by")
      .where({ pipeline: this.pipeline })
      .whereNotNull("released_by");
    const done = rows.filter((r) => {
      const by = parseCoordinates(r.released_by);
      if (!by) return false;
      const p = partitions.find((x) => x.topic === by.topic && x.partition === by.partition);
      return p !== undefined && by.offset < p.below;
    });
    if (!done.length) return 0;
    await this.write({
      inserts: [],
      marks: [],
      deletes: done.map((r) => ({
        kind: r.kind as HeldKind,
        topic: r.topic,
        partition: Number(r.partition),
        offset: r.offset,
      })),
    });
    return done.length;
  }
}

/** The identity of a held row. */
export function heldId(kind: string, topic: string, partition: number, offset: string): string {
  return `${kind}\u0000${topic}\u0000${partition}\u0000${offset}`;
}

/** A source record's coordinates as stored in `released_by`: `<partition>@<offset>@<topic>`. */
export function coordinates(r: { topic: string; partition: number; offset: string }): string {
  return `${r.partition}@${r.offset}@${r.topic}`;
}

export function parseCoordinates(text: string): { topic: string; partition: number; offset: bigint } | null {
  const m = /^(\d+)@(\d+)@(.*)$/s.exec(text);
  return m ? { partition: Number(m[1]), offset: BigInt(m[2] ?? "0"), topic: m[3] ?? "" } : null;
}

// Postgres text cannot hold NUL, which separates the parts of a group or item in memory: stored as U+0001
// (key texts are JSON, in which control characters are escaped, so neither occurs in them raw).
const toText = (s: string) => s.replaceAll("\u0000", "\u0001");
const fromText = (s: string) => s.replaceAll("\u0001", "\u0000");

function toRow(r: Record_): HeldRow {
  return {
    kind: r.kind as HeldKind,
    topic: r.topic,
    partition: Number(r.partition),
    offset: r.offset,
    group: fromText(r.grp),
    item: fromText(r.item),
    sourceTimeMs: Number(r.source_time_ms),
    heldAtMs: Number(r.held_at_ms),
    record: r.record ?? null,
    releasedBy: r.released_by,
    releasedAs: r.released_as,
  };
}
