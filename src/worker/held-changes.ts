// Changes held back across records (docs/state.md): dependencies (`requires:`, parked until the parent row is in
// the table state) and transaction aggregates (buffered until the transaction is complete). Both keep the source
// records themselves in the state store and, when they can go, map them (released children) or evaluate them
// (aggregates) as outputs of the batch that made them go. Durability (docs/state.md "Held changes"):
//   - a held record is written to the store before its batch's offsets are committed (so committing it is safe);
//   - a release is written as a mark naming the record whose processing made it (the trigger); a redelivery of
//     that trigger (its batch was not committed) releases the same records again, with the same ce_ids;
//   - marked rows are deleted once their trigger's offset is committed (a later batch of its partition starts
//     past it).
import type { DecodedRecord, SourceRecord, ChangeEvent } from "../decode/change-event.js";
import { mapChange } from "../map/mapper.js";
import type { TransformSet } from "../map/mapper.js";
import type { Bindings } from "../map/expression.js";
import { keyText } from "../map/row-codec.js";
import type { TableStateView } from "../map/table-state.js";
import type { PublishedRecord } from "../publish/output-record.js";
import {
  coordinates,
  heldId,
  parseCoordinates,
  type HeldKind,
  type HeldRow,
  type HeldStore,
  type HeldWrites,
} from "../state/held-store.js";
import {
  Aggregates,
  rootKey,
  transactionKey,
  type AggregateEvaluation,
  type TxBuffer,
} from "./aggregates.js";
import type { BatchHook, PreparedBatch } from "./batch-hooks.js";
import { Dependencies, type Parked, type ParentRows, type Release } from "./dependencies.js";
import type { Outcome } from "./record-processor.js";

/** A transaction with more buffered changes than this is evaluated as it is, partial. */
export const MAX_TRANSACTION_CHANGES = 100_000;
/** Changes of one transaction kept in memory; further ones are kept in the state store only until evaluated. */
export const SPILL_AFTER = 10_000;
/** An evaluated transaction is remembered this many transaction timeouts (its late redeliveries are ignored). */
const DONE_TIMEOUTS = 10;
/** A partition without records for this long (clock) no longer holds the source-time clock back. */
const PARTITION_QUIET_MS = 60_000;

/** What happened to held records, reported by the run summary. */
export type HeldOutcome =
  | { kind: "released" | "timed-out"; outcome: Outcome }
  | { kind: "aggregate"; records: PublishedRecord[]; partial: boolean; deadLetter?: Outcome };

/** What the processor does for the held changes. */
export interface HeldHost {
  /** processes a released record as if it arrived now (its requires are not checked again) */
  process(record: SourceRecord): Outcome;
  /** the dead letter of a record */
  deadLetter(record: SourceRecord, stage: "MAP", error: Error): Outcome;
  decode(record: SourceRecord): DecodedRecord;
  /** fetches what decoding the records needs (AvroConverter: their writer schemas) */
  prefetch(records: readonly SourceRecord[]): Promise<void>;
  /** the records of an aggregate evaluation's events (encoded, headers with the aggregate's ce_id) */
  aggregateRecords(
    evaluation: AggregateEvaluation,
    map: () => ReturnType<typeof mapChange>,
  ): PublishedRecord[];
}

export interface HeldOptions {
  transforms: TransformSet;
  /** null: in memory only (replay) */
  store: HeldStore | null;
  /** the table state the parents are looked up in; null: no table state (every parent is missing) */
  view: TableStateView | null;
  transactionTimeoutMs: number;
  /** `run`: a held change also times out by the clock */
  wallClock: boolean;
  /**
   * Several workers share the store (Kafka run on Postgres): memory is brought up to the store before each batch,
   * and a worker releases by sweep or timeout only the parked changes that came from the partition it is
   * processing (that partition is its alone). Otherwise memory is the store's only writer.
   */
  sharedStore?: boolean;
  now?: () => number;
  /** changes of a transaction kept in memory before the rest are spilled (default SPILL_AFTER) */
  spillAfter?: number;
}

interface HeldEntry {
  row: HeldRow;
  /** null: spilled (a change of a huge transaction, in the state store only) */
  record: SourceRecord | null;
}

export class HeldChanges implements BatchHook {
  readonly dependencies: Dependencies;
  readonly aggregates: Aggregates;
  private host: HeldHost | null = null;
  private readonly entries = new Map<string, HeldEntry>();
  /** releases published by a trigger record, by its coordinates (a redelivered trigger releases them again) */
  private readonly byTrigger = new Map<string, { id: string; as: string }[]>();
  private writes: HeldWrites = { inserts: [], marks: [], deletes: [] };
  private outcomes: HeldOutcome[] = [];
  private sourceNow = 0;
  private sequence = 0;
  private releasing: SourceRecord | null = null;
  private batchStarts = new Map<string, { topic: string; partition: number; first: bigint }>();
  private readonly now: () => number;
  private loaded = false;

  constructor(private readonly options: HeldOptions) {
    const view = options.view;
    const parents: ParentRows = {
      present: (table, key) => (view ? view.lookup(table, key) !== null : false),
    };
    this.dependencies = new Dependencies(options.transforms.requires, parents);
    this.aggregates = new Aggregates(options.transforms.aggregates, options.transactionTimeoutMs);
    this.now = options.now ?? Date.now;
    view?.onRowApplied((applied) => {
      if (applied.image !== null) this.dependencies.parentApplied(applied.table, applied.pk);
    });
  }

  attach(host: HeldHost): void {
    this.host = host;
  }

  /** Whether the transforms declare anything that holds changes. */
  static wanted(transforms: TransformSet): boolean {
    return transforms.requires.size > 0 || transforms.aggregates.length > 0;
  }

  /** How many records are held now (parked, or buffered in an incomplete transaction). */
  get held(): { parked: number; buffered: number } {
    let buffered = 0;
    for (const b of this.aggregates.buffers.values()) buffered += b.changes.length;
    return { parked: this.dependencies.size, buffered };
  }

  // -- batch hooks ------------------------------------------------------------------------------------------

  async prepare(batch: PreparedBatch): Promise<void> {
    const store = this.options.store;
    // the pruning of beforeCommit needs them, and only with a store
    if (store) this.batchStarts = partitionStarts(batch.records);
    const fresh = !this.loaded;
    if (store && (this.options.sharedStore || fresh)) await this.sync(store);
    this.loaded = true;
    this.repeatable.clear();
    if (store) {
      for (const r of batch.records) {
        const again = this.byTrigger.get(coordinates(r));
        if (again?.length) this.repeatable.set(coordinates(r), [...again]);
      }
    }
    const first = batch.records[0];
    if (!first) return;
    // parents applied by other workers (or by the start-up bootstrap), and timeouts by the clock: released before
    // the batch's first record, which is their trigger
    // every parked change whose parent is present now goes, whichever partition it came from: a partition
    // may get no further batch (if another worker releases it at the same moment: the same ce_id twice)
    const sweep = this.options.sharedStore || fresh ? this.dependencies.sweep() : [];
    const wall = this.options.wallClock ? this.now() : null;
    const expired = wall !== null ? this.dependencies.expire(this.clock(), wall) : [];
    if (store) await this.loadForBatch(store, batch.records, wall);
    // made now, so that their events come before the batch's own (takeOutcomes right after prepare)
    this.emitReleases(first, [...sweep, ...expired]);
    if (this.due.size) this.evaluateDue(first);
  }

  /**
   * Transactions to evaluate whose changes were spilled (complete, over the maximum, or timed out — also by the
   * clock): their records are loaded now, and they are evaluated with the batch's first record as trigger. The
   * records a redelivered trigger of this batch released before are loaded too.
   */
  private async loadForBatch(
    store: HeldStore,
    records: readonly SourceRecord[],
    wall: number | null,
  ): Promise<void> {
    for (const b of this.aggregates.buffers.values()) {
      const complete = this.aggregates.complete(b);
      const late = wall !== null && wall - (this.txHeldAt.get(b.key) ?? wall) >= this.aggregates.timeoutMs;
      if (complete || late) this.due.set(b.key, !complete);
    }
    const wanted: HeldRow[] = [];
    for (const key of this.due.keys()) {
      const b = this.aggregates.buffers.get(key);
      for (const c of b?.changes ?? []) {
        const row = c.change ? null : this.entries.get(c.id)?.row;
        if (row) wanted.push(row);
      }
    }
    for (const r of records) {
      for (const { id } of this.byTrigger.get(coordinates(r)) ?? []) {
        const entry = this.entries.get(id);
        if (entry && !entry.record) wanted.push(entry.row);
      }
    }
    if (!wanted.length && !this.due.size) return;
    const texts = wanted.length ? await store.records(wanted) : new Map<string, string>();
    for (const row of wanted) {
      const id = heldId(row.kind, row.topic, row.partition, row.offset);
      const text = texts.get(id);
      const entry = this.entries.get(id);
      if (entry && text) entry.record = parseRecordText(text, row);
    }
    const loaded = wanted.flatMap((row) => {
      const record = this.entries.get(heldId(row.kind, row.topic, row.partition, row.offset))?.record;
      return record ? [record] : [];
    });
    if (loaded.length) await this.requireHost().prefetch(loaded);
    for (const key of this.due.keys()) {
      const b = this.aggregates.buffers.get(key);
      for (const c of b?.changes ?? []) {
        const record = c.change ? null : this.entries.get(c.id)?.record;
        const decoded = record ? this.requireHost().decode(record) : null;
        if (decoded?.kind === "change" && b) {
          c.change = decoded.event;
          b.spilled--;
        }
      }
    }
  }

  /** Transactions to evaluate before the next record (value: partial), their changes loaded in prepare. */
  private readonly due = new Map<string, boolean>();
  /** When (clock) each transaction's first record was held. */
  private readonly txHeldAt = new Map<string, number>();

  /** Evaluates the due transactions with `trigger` (the batch's first record). */
  private evaluateDue(trigger: SourceRecord): void {
    for (const [key, partial] of [...this.due]) {
      const b = this.aggregates.buffers.get(key);
      this.due.delete(key);
      if (b && b.spilled === 0) this.evaluate(b, trigger, partial);
    }
  }

  /** With a shared store: only the parked changes from the partition of `record` (see sharedStore). */
  private owner(record: SourceRecord): ((e: Parked) => boolean) | undefined {
    if (!this.options.sharedStore) return undefined;
    return (e) => {
      const row = this.entries.get(e.id)?.row;
      return row !== undefined && row.topic === record.topic && row.partition === record.partition;
    };
  }

  private repeating: { record: SourceRecord; releases: { id: string; as: string }[] } | null = null;
  /** the releases the batch's records made in an earlier, uncommitted processing, by record coordinates */
  private readonly repeatable = new Map<string, { id: string; as: string }[]>();

  takeOutputs(): PublishedRecord[] {
    return [];
  }

  /** What became of held records since the last call (the worker counts them and publishes their records). */
  takeOutcomes(): HeldOutcome[] {
    const out = this.outcomes;
    this.outcomes = [];
    return out;
  }

  async beforeCommit(): Promise<void> {
    const writes = this.writes;
    this.writes = { inserts: [], marks: [], deletes: [] };
    const store = this.options.store;
    if (!store) return;
    await store.write(writes);
    const starts = [...this.batchStarts.values()];
    await store.forgetReleased(
      starts.map((s) => ({ topic: s.topic, partition: s.partition, below: s.first })),
    );
    // evaluated transactions are remembered for ten transaction timeouts (source time), then forgotten
    const cutoff = this.doneCutoff();
    if (cutoff !== null) {
      await store.forgetDone(cutoff);
      this.aggregates.forgetDone(cutoff, false);
    }
    // the same in memory: releases whose trigger lies below a batch start are final
    for (const [by, list] of [...this.byTrigger]) {
      const at = parseCoordinates(by);
      const s = at && starts.find((x) => x.topic === at.topic && x.partition === at.partition);
      if (!at || !s || at.offset >= s.first) continue;
      this.byTrigger.delete(by);
      for (const { id } of list) this.entries.delete(id);
    }
  }

  /** Evaluated transactions before this source time are forgotten (null: none yet, or no aggregates). */
  private doneCutoff(): number | null {
    if (!this.aggregates.declarations.length || this.sourceNow <= 0) return null;
    return this.sourceNow - DONE_TIMEOUTS * this.aggregates.timeoutMs;
  }

  abandon(): void {
    // the store is the truth: the next prepare reloads from it
    this.writes = { inserts: [], marks: [], deletes: [] };
    this.outcomes = [];
    if (this.options.store) this.loaded = false;
  }

  // -- the per-record path (synchronous) --------------------------------------------------------------------

  /**
   * Before a record's change is applied and mapped: observes its source time, buffers transaction END records,
   * and parks the change when it must wait (the returned outcome). Throws a require's evaluation error.
   */
  admit(record: SourceRecord, decoded: DecodedRecord): Outcome | null {
    // releases this record made before (its batch was not committed) are made again after it (after());
    // as they were when the batch was prepared, before this batch marked anything
    if (this.releasing !== record) {
      const key = coordinates(record);
      const again = this.repeatable.get(key);
      this.repeatable.delete(key);
      this.repeating = again?.length ? { record, releases: again } : null;
    }
    if (decoded.kind === "heartbeat") this.advance(record, decoded.tsMs);
    if (decoded.kind === "transaction") {
      this.advance(record, decoded.tsMs ?? null);
      if (decoded.status === "END" && this.aggregates.declarations.length) this.bufferEnd(record, decoded);
      return null;
    }
    if (decoded.kind !== "change") return null;
    const change = decoded.event;
    this.advance(record, change.commitTimeMs);
    if (this.releasing === record) return null;
    const id = this.idOf("park", record);
    // redelivered while parked, or released already (its trigger publishes it, again if need be)
    if (this.entries.has(id)) return { kind: "held", reason: "parked" };
    const wait = this.dependencies.check(change);
    if (!wait) return null;
    const parked: Parked = {
      id,
      childTable: change.table,
      child: wait.child,
      parent: wait.parent,
      // its own time: when it arrived in source time (an Oracle change carries its change time, which can be
      // long before the commit that emits it)
      sourceTimeMs: Math.max(change.commitTimeMs, this.clock()),
      heldAtMs: this.now(),
    };
    this.dependencies.park(parked);
    this.hold("park", id, record, {
      group: wait.parent
        ? `${wait.parent.table}\u0000${wait.parent.keyText}\u0000${wait.parent.require}`
        : "",
      item: wait.child,
      sourceTimeMs: parked.sourceTimeMs,
      heldAtMs: parked.heldAtMs,
    });
    this.parentKeys.set(id, wait.parent?.key);
    // an aggregate file declares no requires: the change counts for its transaction now (as it came)
    if (this.aggregates.tracks(change.table)) {
      this.applied(record, change);
      this.aggregatedAtPark.add(record);
    }
    return { kind: "held", reason: "parked" };
  }

  /** Parked records buffered for their aggregates when parked (not again when released). */
  private readonly aggregatedAtPark = new WeakSet<SourceRecord>();

  private readonly parentKeys = new Map<string, unknown>();

  /** After the table state applied a change: root and member changes are buffered for their aggregates. */
  applied(record: SourceRecord, change: ChangeEvent): void {
    if (!this.aggregates.tracks(change.table)) return;
    if (this.releasing === record && this.aggregatedAtPark.has(record)) return;
    if (!change.transaction) {
      // a snapshot row (or a change without transaction metadata): a root row is evaluated alone
      if (this.aggregates.isRoot(change.table))
        this.emitAggregates(this.aggregates.alone(change), record, []);
      return;
    }
    const id = this.idOf("tx", record);
    const arrived = Math.max(change.commitTimeMs, this.clock());
    const buffer = this.aggregates.addChange(change, id, arrived);
    if (!buffer) {
      // a root row of a transaction evaluated before it came: published alone, partial
      const late = this.aggregates.late(change);
      if (late) this.emitLate(late, record, change);
      return;
    }
    this.hold("tx", id, record, {
      group: buffer.key,
      item: change.table,
      sourceTimeMs: arrived,
      heldAtMs: this.now(),
    });
    if (!this.txHeldAt.has(buffer.key)) this.txHeldAt.set(buffer.key, this.now());
    this.spillIfHuge(buffer, id);
    this.completeIfReady(buffer, record);
  }

  /** A huge transaction keeps only its first changes in memory; the others are in the state store. */
  private spillIfHuge(buffer: TxBuffer, id: string): void {
    if (!this.options.store || buffer.changes.length <= (this.options.spillAfter ?? SPILL_AFTER)) return;
    const last = buffer.changes[buffer.changes.length - 1];
    const entry = this.entries.get(id);
    if (last?.id !== id || !entry) return;
    this.aggregates.spill(buffer, last);
    entry.record = null;
  }

  /** After each record: releases its changes made possible, timeouts it made due, a redelivered trigger's releases. */
  after(record: SourceRecord): void {
    if (this.releasing) return;
    const again = this.repeating?.record === record ? this.repeating.releases : null;
    this.repeating = null;
    if (again) this.repeat(record, again);
    // a released change may itself be a parent: release until nothing more goes
    for (let round = 0; round < 1_000; round++) {
      const releases = [
        ...this.dependencies.drainApplied(),
        ...this.dependencies.expire(
          this.clock(),
          this.options.wallClock ? this.now() : null,
          this.owner(record),
        ),
      ];
      if (!releases.length) break;
      this.emitReleases(record, releases);
    }
    for (const buffer of this.aggregates.expired(this.clock(), null, () => 0)) {
      if (buffer.spilled) this.due.set(buffer.key, true);
      else this.evaluate(buffer, record, true);
    }
    // replay: forgotten as in `run` (else a long replay would remember every transaction), after each record so
    // that the output does not depend on how the input was cut into batches
    if (!this.options.store) {
      const cutoff = this.doneCutoff();
      if (cutoff !== null) this.aggregates.forgetDone(cutoff, true);
    }
  }

  /** End of a replay: whatever is still held times out (parked changes per onTimeout; aggregates partial). */
  finish(last: SourceRecord | null): void {
    const trigger = last ?? {
      topic: "",
      partition: 0,
      offset: "0",
      timestamp: null,
      headers: {},
      key: null,
      value: null,
    };
    this.emitReleases(trigger, this.dependencies.expireAll());
    for (const buffer of [...this.aggregates.buffers.values()]) this.evaluate(buffer, trigger, true);
  }

  // -- releases -----------------------------------------------------------------------------------------------

  private emitReleases(trigger: SourceRecord, releases: Release[]): void {
    for (const release of releases) {
      const entry = this.entries.get(release.entry.id);
      if (!entry?.record) continue; // parked changes are never spilled
      this.outcomes.push(this.releaseOutcome(entry.record, release.as, release.entry));
      this.mark(release.entry.id, entry.row, trigger, release.as);
    }
  }

  private releaseOutcome(record: SourceRecord, as: string, parked: Parked | null): HeldOutcome {
    const host = this.requireHost();
    if (as === "dead-letter") {
      const error = parked
        ? this.dependencies.timeoutError(parked)
        : new Error("parked change timed out waiting for its parent");
      return { kind: "timed-out", outcome: host.deadLetter(record, "MAP", error) };
    }
    this.releasing = record;
    try {
      const outcome = host.process(record);
      return { kind: as === "publish" ? "timed-out" : "released", outcome };
    } finally {
      this.releasing = null;
    }
  }

  /** A redelivered trigger: the releases it made before (its batch was not committed) are made again. */
  private repeat(trigger: SourceRecord, releases: { id: string; as: string }[]): void {
    const aggregated = new Set<string>();
    for (const { id, as } of releases) {
      const entry = this.entries.get(id);
      if (!entry?.record) continue; // a spilled record is loaded in prepare (loadForBatch)
      if (entry.row.kind === "park") {
        const parked = this.rowToParked(entry.row);
        this.outcomes.push(this.releaseOutcome(entry.record, as, parked));
      } else if (entry.row.kind === "tx" && !aggregated.has(entry.row.group)) {
        aggregated.add(entry.row.group);
        const buffer = this.rebuildBuffer(entry.row.group, releases);
        if (buffer)
          this.emitAggregates(
            this.aggregates.evaluations(buffer, as === "partial"),
            trigger,
            [],
            as === "partial",
          );
      }
    }
  }

  // -- aggregates -----------------------------------------------------------------------------------------------

  private bufferEnd(record: SourceRecord, decoded: Extract<DecodedRecord, { kind: "transaction" }>): void {
    if (!this.aggregates.concerns(decoded.dataCollections)) return; // a transaction of no aggregate
    const id = this.idOf("tx", record);
    const time = decoded.tsMs ?? record.timestamp ?? this.sourceNow;
    const buffer = this.aggregates.addEnd(decoded.id, id, decoded.eventCount, decoded.dataCollections, time);
    if (!buffer) return;
    this.hold("tx", id, record, { group: buffer.key, item: "", sourceTimeMs: time, heldAtMs: this.now() });
    this.completeIfReady(buffer, record);
  }

  private completeIfReady(buffer: TxBuffer, trigger: SourceRecord): void {
    const complete = this.aggregates.complete(buffer);
    if (!complete && buffer.changes.length < MAX_TRANSACTION_CHANGES) return;
    // spilled changes are loaded before the next batch, which evaluates the transaction
    if (buffer.spilled) this.due.set(buffer.key, !complete);
    else this.evaluate(buffer, trigger, !complete);
  }

  /** A late root's evaluation, and its row remembered as evaluated (a `txdone` row of its own). */
  private emitLate(late: AggregateEvaluation[], record: SourceRecord, change: ChangeEvent): void {
    this.emitAggregates(late, record, [], true);
    if (!this.options.store || !change.transaction) return;
    const key = transactionKey(change.transaction.id);
    this.writes.inserts.push({
      kind: "txdone",
      topic: "late",
      partition: record.partition,
      offset: `${record.offset}`.slice(0, 32),
      group: key,
      item: JSON.stringify([rootKey(change)]),
      sourceTimeMs: this.aggregates.done.get(key) ?? this.sourceNow,
      heldAtMs: this.now(),
      record: null,
      releasedBy: null,
      releasedAs: null,
    });
  }

  /** The root rows of an evaluated transaction, from its `txdone` row(s). */
  private rememberRoots(key: string, item: string): void {
    const known = this.aggregates.doneRoots.get(key);
    if (known === "*") return;
    let roots: string[] | null = null;
    try {
      roots = item.startsWith("[") ? (JSON.parse(item) as string[]) : null;
    } catch {
      roots = null;
    }
    if (!roots) {
      this.aggregates.doneRoots.set(key, "*");
      return;
    }
    const set = known ?? new Set<string>();
    for (const r of roots) set.add(r);
    this.aggregates.doneRoots.set(key, set);
  }

  /** Evaluates a transaction's aggregates, marks its records released by `trigger`, remembers it as done. */
  private evaluate(buffer: TxBuffer, trigger: SourceRecord, partial: boolean): void {
    const ids = [...buffer.changes.map((c) => c.id), ...buffer.others];
    this.emitAggregates(this.aggregates.evaluations(buffer, partial), trigger, ids, partial);
    this.aggregates.finish(buffer, this.sourceNow);
    this.txHeldAt.delete(buffer.key);
    if (this.options.store) {
      // remembered, so that a late redelivery of one of its records does not start it again
      this.writes.inserts.push({
        kind: "txdone",
        topic: "",
        partition: 0,
        offset: buffer.key.slice(0, 32),
        group: buffer.key,
        item: rootsText(this.aggregates.doneRoots.get(buffer.key)),
        sourceTimeMs: this.sourceNow,
        heldAtMs: this.now(),
        record: null,
        releasedBy: null,
        releasedAs: null,
      });
    }
  }

  private emitAggregates(
    evaluations: AggregateEvaluation[],
    trigger: SourceRecord,
    ids: readonly string[],
    partial = false,
  ): void {
    const host = this.requireHost();
    for (const evaluation of evaluations) {
      try {
        const records = host.aggregateRecords(evaluation, () => {
          const events = mapChange(
            evaluation.root,
            evaluation.aggregate.events,
            evaluation.vars as unknown as Bindings,
          );
          // a member's match failed: with no event whose `when` holds it is no fact (a deleted root row under a
          // match over root.after); events would miss that member: a dead letter
          if (evaluation.error && events.length > 0) throw evaluation.error;
          return events;
        });
        this.outcomes.push({ kind: "aggregate", records, partial: evaluation.partial });
      } catch (err) {
        // an aggregate whose events cannot be made is a dead letter of its root record
        const root = evaluation.rootId ? this.entries.get(evaluation.rootId)?.record : trigger;
        const deadLetter = host.deadLetter(root ?? trigger, "MAP", evaluation.error ?? (err as Error));
        this.outcomes.push({ kind: "aggregate", records: [], partial: evaluation.partial, deadLetter });
      }
    }
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry) this.mark(id, entry.row, trigger, partial ? "partial" : "aggregated");
    }
  }

  private rebuildBuffer(group: string, releases: { id: string; as: string }[]): TxBuffer | null {
    const scratch = new Aggregates(this.aggregates.declarations, this.aggregates.timeoutMs);
    let buffer: TxBuffer | null = null;
    for (const { id } of releases) {
      const entry = this.entries.get(id);
      if (!entry?.record || entry.row.kind !== "tx" || entry.row.group !== group) continue;
      const decoded = this.requireHost().decode(entry.record);
      if (decoded.kind === "change") buffer = scratch.addChange(decoded.event, id) ?? buffer;
      else if (decoded.kind === "transaction")
        buffer =
          scratch.addEnd(
            decoded.id,
            id,
            decoded.eventCount,
            decoded.dataCollections,
            entry.row.sourceTimeMs,
          ) ?? buffer;
    }
    return buffer;
  }

  // -- bookkeeping ------------------------------------------------------------------------------------------

  private advance(record: SourceRecord, ms: number | null): void {
    if (ms === null || !Number.isFinite(ms)) return;
    if (ms > this.sourceNow) this.sourceNow = ms;
    if (!this.options.store) return;
    const id = `${record.partition}/${record.topic}`;
    const seen = this.partitionTimes.get(id);
    this.partitionTimes.set(id, { ms: Math.max(ms, seen?.ms ?? ms), wall: this.now() });
  }

  /**
   * The source time timeouts are measured in. `replay` processes one stream in input order: the latest source
   * time processed. `run` consumes partitions (topics, files) at different paces — a partition far ahead would
   * time out what waits for a lagging one —, so it is the earliest of the latest source times of the partitions
   * this worker processes (those it had records from in the last minute: a partition that went to another
   * worker, or quiet, does not hold it back; the clock timeout covers the rest).
   */
  private clock(): number {
    if (!this.options.store) return this.sourceNow;
    const wall = this.now();
    let min = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.partitionTimes) {
      if (wall - p.wall > PARTITION_QUIET_MS) this.partitionTimes.delete(id);
      else min = Math.min(min, p.ms);
    }
    return Number.isFinite(min) ? min : 0;
  }

  /** latest source time and when (clock) it was processed, per partition (`run`: see clock()) */
  private readonly partitionTimes = new Map<string, { ms: number; wall: number }>();

  private idOf(kind: HeldKind, record: SourceRecord): string {
    // replay: records may share coordinates (plain Debezium values have none): identity is the input order
    if (this.options.store) return heldId(kind, record.topic, record.partition, record.offset);
    let ids = this.replayIds.get(record);
    if (!ids) this.replayIds.set(record, (ids = {}));
    return (ids[kind] ??= `${kind}\u0000#${++this.sequence}`);
  }

  /** replay: the ids of each record (a record parked and released is buffered for its aggregate once) */
  private readonly replayIds = new WeakMap<SourceRecord, Partial<Record<HeldKind, string>>>();

  private hold(
    kind: HeldKind,
    id: string,
    record: SourceRecord,
    row: Pick<HeldRow, "group" | "item" | "sourceTimeMs" | "heldAtMs">,
  ): void {
    const held: HeldRow = {
      kind,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      ...row,
      record: null,
      releasedBy: null,
      releasedAs: null,
    };
    this.entries.set(id, { row: held, record });
    if (this.options.store) this.writes.inserts.push({ ...held, record: recordText(record) });
  }

  /** `entryId`: the row's key in `entries` (replay's ids are by input order, not by coordinates). */
  private mark(entryId: string, row: HeldRow, trigger: SourceRecord, as: string): void {
    if (!this.options.store) {
      // replay: nothing to redo later
      this.entries.delete(entryId);
      return;
    }
    const id = heldId(row.kind, row.topic, row.partition, row.offset);
    const by = coordinates(trigger);
    row.releasedBy = by;
    row.releasedAs = as;
    const list = this.byTrigger.get(by) ?? [];
    if (!list.some((x) => x.id === id)) list.push({ id, as });
    this.byTrigger.set(by, list);
    this.writes.marks.push({
      kind: row.kind,
      topic: row.topic,
      partition: row.partition,
      offset: row.offset,
      by,
      as,
    });
  }

  private requireHost(): HeldHost {
    if (!this.host) throw new Error("internal: held changes used before the processor attached");
    return this.host;
  }

  private rowToParked(row: HeldRow): Parked {
    const [table = "", text = "", require = "0"] = row.group.split("\u0000");
    const id = heldId(row.kind, row.topic, row.partition, row.offset);
    return {
      id,
      childTable: row.item.split("\u0000")[0] ?? "",
      child: row.item,
      parent: row.group
        ? {
            table,
            keyText: text,
            key: this.parentKeys.get(id) ?? parseKeyText(text),
            require: Number(require),
          }
        : null,
      sourceTimeMs: row.sourceTimeMs,
      heldAtMs: row.heldAtMs,
    };
  }

  /**
   * Brings memory up to the store (other workers' parks and releases; after an abandoned batch): every held row,
   * the records of rows not in memory yet.
   */
  private async sync(store: HeldStore): Promise<void> {
    const rows = await store.list(false);
    // nothing changed by others since this worker's own last write: memory is the store already
    if (this.loaded && this.sameAsMemory(rows)) return;
    const ids = new Set(rows.map((r) => heldId(r.kind, r.topic, r.partition, r.offset)));
    const missing = rows.filter(
      (r) => r.kind !== "txdone" && !this.entries.has(heldId(r.kind, r.topic, r.partition, r.offset)),
    );
    const records = missing.length ? await store.records(missing) : new Map<string, string>();
    const loaded: SourceRecord[] = [];
    for (const r of missing) {
      const id = heldId(r.kind, r.topic, r.partition, r.offset);
      const text = records.get(id);
      if (!text) continue;
      const record = parseRecordText(text, r);
      this.entries.set(id, { row: r, record });
      loaded.push(record);
    }
    if (loaded.length) await this.requireHost().prefetch(loaded);
    for (const id of [...this.entries.keys()]) if (!ids.has(id)) this.entries.delete(id);
    // rebuild the bookkeeping from the rows (in their stored order: source time, then coordinates)
    this.dependencies.clear();
    this.aggregates.clear();
    this.byTrigger.clear();
    for (const r of rows) {
      const id = heldId(r.kind, r.topic, r.partition, r.offset);
      if (r.kind === "txdone") {
        this.aggregates.done.set(r.group, Math.max(r.sourceTimeMs, this.aggregates.done.get(r.group) ?? 0));
        this.rememberRoots(r.group, r.item);
        continue;
      }
      const entry = this.entries.get(id);
      if (!entry) continue;
      entry.row.releasedBy = r.releasedBy;
      entry.row.releasedAs = r.releasedAs;
      if (r.releasedBy) {
        const list = this.byTrigger.get(r.releasedBy) ?? [];
        list.push({ id, as: r.releasedAs ?? "released" });
        this.byTrigger.set(r.releasedBy, list);
        continue;
      }
      if (r.kind === "park") this.dependencies.park(this.rowToParked(r));
      else this.rebufferRow(id, entry);
    }
    // what a huge transaction had spilled before is spilled again (memory holds its first changes only)
    for (const b of this.aggregates.buffers.values()) {
      const spillAfter = this.options.spillAfter ?? SPILL_AFTER;
      for (const c of b.changes.slice(spillAfter)) {
        this.aggregates.spill(b, c);
        const entry = this.entries.get(c.id);
        if (entry) entry.record = null;
      }
    }
    this.loaded = true;
  }

  /** Whether the stored rows are exactly the held rows (and their releases) and evaluated transactions in memory. */
  private sameAsMemory(rows: readonly HeldRow[]): boolean {
    const stored = [
      ...new Set(
        rows.map((r) =>
          r.kind === "txdone"
            ? `done|${r.group}`
            : `${heldId(r.kind, r.topic, r.partition, r.offset)}|${r.releasedBy ?? ""}`,
        ),
      ),
    ];
    const memory = [...this.entries].map(([id, e]) => `${id}|${e.row.releasedBy ?? ""}`);
    for (const key of this.aggregates.done.keys()) memory.push(`done|${key}`);
    if (stored.length !== memory.length) return false;
    stored.sort();
    memory.sort();
    return stored.every((s, i) => s === memory[i]);
  }

  private rebufferRow(id: string, entry: HeldEntry): void {
    const at = this.txHeldAt.get(entry.row.group);
    if (at === undefined || entry.row.heldAtMs < at) this.txHeldAt.set(entry.row.group, entry.row.heldAtMs);
    if (!entry.record) {
      this.aggregates.addSpilled(entry.row.group, id, entry.row.item, entry.row.sourceTimeMs);
      return;
    }
    const decoded = this.requireHost().decode(entry.record);
    if (decoded.kind === "change") this.aggregates.addChange(decoded.event, id, entry.row.sourceTimeMs);
    else if (decoded.kind === "transaction")
      this.aggregates.addEnd(
        decoded.id,
        id,
        decoded.eventCount,
        decoded.dataCollections,
        entry.row.sourceTimeMs,
      );
  }
}

/** The root rows of an evaluated transaction as stored (`*`: unknown which, or too many to keep). */
function rootsText(roots: Set<string> | "*" | undefined): string {
  if (!roots || roots === "*") return "*";
  const text = JSON.stringify([...roots]);
  return text.length <= 1900 ? text : "*";
}

/** The stored form of a source record. */
export function recordText(r: SourceRecord): string {
  return JSON.stringify({
    timestamp: r.timestamp,
    headers: r.headers,
    key: r.key?.toString("base64") ?? null,
    value: r.value?.toString("base64") ?? null,
  });
}

function parseRecordText(text: string, row: HeldRow): SourceRecord {
  const o = JSON.parse(text) as {
    timestamp: number | null;
    headers: Record<string, string>;
    key: string | null;
    value: string | null;
  };
  return {
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    timestamp: o.timestamp,
    headers: o.headers,
    key: o.key === null ? null : Buffer.from(o.key, "base64"),
    value: o.value === null ? null : Buffer.from(o.value, "base64"),
  };
}

/** A parent key as lookup() takes it, back from its keyText (a value, or the values of a composite key). */
function parseKeyText(text: string): unknown {
  let parts: string[];
  try {
    parts = JSON.parse(text) as string[];
  } catch {
    return text;
  }
  const values = parts.map((p) => (/^-?\d+$/.test(p) ? BigInt(p) : p));
  return values.length === 1 ? values[0] : values;
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

export { keyText, rootKey, transactionKey };

/** The records a held outcome publishes: a released record's events or dead letter, an aggregate's events. */
export function heldRecords(held: HeldOutcome): PublishedRecord[] {
  const outcome = held.kind === "aggregate" ? held.deadLetter : held.outcome;
  if (held.kind === "aggregate" && !outcome) return held.records;
  if (outcome?.kind === "events") return outcome.records;
  if (outcome?.kind === "dead-letter") return [outcome.record];
  return [];
}

/** A dead letter among held outcomes, for the worker's log line. */
export function heldDeadLetter(held: HeldOutcome): { stage: string; error: Error } | null {
  const outcome = held.kind === "aggregate" ? held.deadLetter : held.outcome;
  return outcome?.kind === "dead-letter" ? { stage: outcome.stage, error: outcome.error } : null;
}
