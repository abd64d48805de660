// The table state in the worker (docs/state.md): before a batch, what it needs is loaded from the store into the
// in-memory view (rows of its keys, the history of changes applied before — redeliveries —, rows of looked-up
// tables other workers wrote since the last batch); process() reads and updates the view only; after the
// batch's outputs are durable and before its offsets are committed, the view's pending writes go to the store.
import type { ChangeEvent, SourceRecord } from "../decode/change-event.js";
import type { TableStateView, RecordRef } from "../map/table-state.js";
import { statePosition } from "../map/table-state.js";
import { keyText, keyValues } from "../map/row-codec.js";
import type { TableStateStore } from "../state/table-state-store.js";
import type { BatchHook, PreparedBatch } from "./batch-hooks.js";

const SCAN_PAGE = 5_000;

export class TableStateRuntime implements BatchHook {
  private seq = 0;
  /** the first offset of each source partition in the current batch: history below it is no longer needed */
  private batchStarts = new Map<string, { topic: string; partition: number; first: bigint }>();

  constructor(
    readonly view: TableStateView,
    /** null: in memory only (replay) */
    private readonly store: TableStateStore | null,
    /** tables other files look up: kept whole in memory, other workers' writes polled before each batch */
    private readonly lookedUp: readonly string[],
  ) {}

  /** Loads the looked-up tables whole from the store (start-up), and the write sequence they are current to. */
  async start(): Promise<void> {
    for (const table of this.lookedUp) this.view.markComplete(table);
    if (!this.store) return;
    this.seq = await this.store.currentSeq();
    for (const table of this.lookedUp) {
      let after: string | null = null;
      for (;;) {
        const page = await this.store.scan(table, after, SCAN_PAGE);
        this.view.load(page);
        if (page.length < SCAN_PAGE) break;
        after = page[page.length - 1]!.pk;
      }
    }
  }

  async prepare(batch: PreparedBatch): Promise<void> {
    // the history pruning of beforeCommit needs them, and only with a store
    if (!this.store) return;
    this.batchStarts = partitionStarts(batch.records);
    if (this.lookedUp.length) {
      const delta = await this.store.changesSince(this.seq, this.lookedUp);
      this.view.load(delta.rows);
      this.seq = delta.seq;
    }
    const wanted = this.keysToLoad(batch);
    for (const [table, pks] of wanted) {
      if (pks.size && !this.view.isComplete(table)) this.view.load(await this.store.rows(table, [...pks]));
    }
    await this.loadHistory(batch);
  }

  /** The primary keys of the batch's changes of state tables (and the old keys of key changes). */
  private keysToLoad(batch: PreparedBatch): Map<string, Set<string>> {
    const wanted = new Map<string, Set<string>>();
    for (const change of batch.changes.values()) {
      if (!this.view.has(change.table)) continue;
      let set = wanted.get(change.table);
      if (!set) wanted.set(change.table, (set = new Set()));
      const pk = this.view.pkOf(change);
      if (pk !== null && !this.view.hasRow(change.table, pk)) set.add(pk);
      if (change.keyChange) set.add(keyText(keyValues(change.keyChange.old)));
    }
    return wanted;
  }

  /**
   * The history the batch may need: for a change no newer than its row (a redelivery), the image that preceded
   * it; for the create half of a key change whose old key is deleted, the image before that delete.
   */
  private async loadHistory(batch: PreparedBatch): Promise<void> {
    const entries = new Map<string, { pk: string; position: string }[]>();
    const add = (table: string, pk: string, position: string) => {
      const list = entries.get(table) ?? [];
      list.push({ pk, position });
      entries.set(table, list);
    };
    for (const [record, change] of batch.changes) {
      if (!this.view.has(change.table)) continue;
      const pk = this.view.pkOf(change);
      const stored = pk === null ? null : this.view.positionOf(change.table, pk);
      const position = statePosition(change, refOf(record));
      if (pk !== null && stored !== null && stored >= position) add(change.table, pk, position);
      if (change.keyChange && change.op !== "d") {
        const oldPk = keyText(keyValues(change.keyChange.old));
        const oldPosition = this.view.positionOf(change.table, oldPk);
        if (oldPosition !== null) add(change.table, oldPk, oldPosition);
      }
    }
    for (const [table, list] of entries) this.view.loadHistory(await this.store!.history(table, list));
  }

  async beforeCommit(): Promise<void> {
    const pending = this.view.pendingWrites();
    if (this.store) {
      await this.store.write({
        rows: pending.rows,
        truncates: pending.truncates,
        applied: [...pending.applied.values()].map((a) => ({ ...a, next: a.next.toString() })),
        prune: [...this.batchStarts.values()].map((s) => ({
          topic: s.topic,
          partition: s.partition,
          below: s.first.toString(),
        })),
      });
      this.view.written();
      // rows of tables not kept whole are loaded per batch: another worker may own their keys next
      this.view.evictIncomplete();
    } else this.view.written();
  }

  /** Next offset applied to the state per "topic/partition" of `topics` (where the Kafka bootstrap resumes). */
  async appliedOffsets(topics: readonly string[]): Promise<Map<string, bigint>> {
    return this.store ? this.store.appliedOffsets(topics) : new Map();
  }

  abandon(): void {
    this.view.rollback();
  }

  /** Bootstrap: applies changes of the looked-up tables to the state only (nothing is published), then writes them. */
  async applyOnly(
    records: readonly SourceRecord[],
    changes: ReadonlyMap<SourceRecord, ChangeEvent>,
  ): Promise<void> {
    const batch: PreparedBatch = { records, changes };
    await this.prepare(batch);
    // history is pruned only by the group's own batches
    this.batchStarts = new Map();
    for (const [record, change] of changes) {
      if (this.lookedUp.includes(change.table)) this.view.apply(change, refOf(record));
    }
    await this.beforeCommit();
  }
}

export function refOf(record: SourceRecord): RecordRef {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}

function partitionStarts(
  records: readonly SourceRecord[],
): Map<string, { topic: string; partition: number; first: bigint }> {
  const out = new Map<string, { topic: string; partition: number; first: bigint }>();
  for (const r of records) {
    if (!/^\d+$/.test(r.offset)) continue;
    const id = `${r.topic}/${r.partition}`;
    const offset = BigInt(r.offset);
    const seen = out.get(id);
    if (!seen || offset < seen.first) out.set(id, { topic: r.topic, partition: r.partition, first: offset });
  }
  return out;
}
