// Transaction aggregates (docs/state.md): root and member changes are buffered per source transaction until the
// transaction's END record has been read and every change it counts for the root and member tables has been
// seen; then each aggregate is evaluated once per root row. This is the in-memory bookkeeping; held-changes.ts
// keeps it in the state store and publishes the events.
import { comparePositions } from "../publish/event-id.js";
import { celList, celMap, type CelInput } from "@bufbuild/cel";
import type { ChangeEvent } from "../decode/change-event.js";
import type { AggregateDeclaration } from "../map/aggregate-file.js";
import { bindingsFor, MappingError } from "../map/mapper.js";
import { ROOT_BINDINGS, type Bindings } from "../map/expression.js";
import { keyText, keyValues } from "../map/row-codec.js";

/** A buffered change of a transaction. */
export interface TxChange {
  /** identity of its held row */
  id: string;
  table: string;
  /** null: spilled (kept in the state store only; loaded again to evaluate) */
  change: ChangeEvent | null;
}

export interface TxBuffer {
  /** the transaction as correlated across BEGIN/END and data records (Postgres: the txId part) */
  key: string;
  /** the transaction id as Debezium reports it on its END record (else on its first change) */
  id: string;
  changes: TxChange[];
  /** ids of `changes` (a redelivered change is buffered once) */
  ids: Set<string>;
  /** how many of `changes` are spilled */
  spilled: number;
  /** how many changes of each table are buffered */
  seen: Map<string, number>;
  /** ids of held rows of this transaction that are not changes (its END record) */
  others: string[];
  end: { eventCount: bigint; counts: Map<string, bigint> } | null;
  /** the earliest source time seen of the transaction (its timeout runs from here) */
  firstSourceMs: number;
  /** the commit time (the END record's, else the changes') */
  commitTimeMs: number;
}

/** One evaluation of an aggregate: a root row, its members, the transaction. */
export interface AggregateEvaluation {
  aggregate: AggregateDeclaration;
  root: ChangeEvent;
  /** keyText of the root's primary key */
  rootKey: string;
  /** the variables of the evaluation (root, member lists, tx) */
  vars: Record<string, unknown>;
  /** the transaction id for ce_id ("" for a change outside a transaction) */
  txId: string;
  partial: boolean;
  /** the held row of the root change (null: evaluated alone as it arrived) */
  rootId: string | null;
  /** the transaction's commit time (its END's ts_ms) when known: the events' timestamp (else the root's) */
  commitTimeMs?: number;
  /** a member's match that could not be evaluated: this root's evaluation is a dead letter, not the batch's end */
  error?: MappingError;
}

/** Debezium's transaction id → the key its data records can be correlated on (Postgres ids are `txId:LSN`). */
export function transactionKey(id: string): string {
  const colon = id.indexOf(":");
  return colon > 0 && /^\d+$/.test(id.slice(0, colon)) ? id.slice(0, colon) : id;
}

export class Aggregates {
  readonly buffers = new Map<string, TxBuffer>();
  /** transactions evaluated already (their late redeliveries are ignored), with the source time they completed */
  readonly done = new Map<string, number>();
  private readonly tables = new Set<string>();

  constructor(
    readonly declarations: readonly AggregateDeclaration[],
    readonly timeoutMs: number,
  ) {
    for (const a of declarations) {
      this.tables.add(a.root);
      for (const m of a.members) this.tables.add(m.table);
    }
  }

  /** Whether changes of `table` are buffered (a root or member table). */
  tracks(table: string): boolean {
    return this.tables.has(table);
  }
  isRoot(table: string): boolean {
    return this.declarations.some((a) => a.root === table);
  }

  clear(): void {
    this.buffers.clear();
    this.done.clear();
  }

  private buffer(key: string, id: string, sourceMs: number): TxBuffer {
    let b = this.buffers.get(key);
    if (!b) {
      b = {
        key,
        id,
        changes: [],
        ids: new Set(),
        spilled: 0,
        seen: new Map(),
        others: [],
        end: null,
        firstSourceMs: sourceMs,
        commitTimeMs: sourceMs,
      };
      this.buffers.set(key, b);
    }
    // the transaction's own time is the latest source time at which one of its data records arrived (Oracle
    // changes carry their change time, minutes before the commit that emits them; END alone does not start it)
    if (Number.isFinite(sourceMs))
      b.firstSourceMs = Number.isFinite(b.firstSourceMs) ? Math.max(b.firstSourceMs, sourceMs) : sourceMs;
    if (b.firstSourceMs < this.earliestSourceMs) this.earliestSourceMs = b.firstSourceMs;
    return b;
  }

  /** An END record: returns its buffer (null when the transaction was evaluated already). */
  addEnd(
    id: string,
    heldId: string,
    eventCount: bigint | null,
    collections: readonly { dataCollection: string; eventCount: bigint }[],
    sourceMs: number,
  ): TxBuffer | null {
    const key = transactionKey(id);
    if (this.done.has(key)) return null;
    // the timeout runs from the transaction's first data change: END alone (read first: topics are read
    // independently) does not start it
    const b = this.buffer(key, id, Number.POSITIVE_INFINITY);
    b.id = id;
    if (!b.others.includes(heldId)) b.others.push(heldId);
    b.commitTimeMs = sourceMs;
    b.end = {
      eventCount: eventCount ?? 0n,
      counts: new Map(collections.map((c) => [c.dataCollection, c.eventCount])),
    };
    return b;
  }

  /** A root or member change in a transaction: returns its buffer (null when evaluated already). */
  addChange(change: ChangeEvent, heldId: string, arrivedMs = change.commitTimeMs): TxBuffer | null {
    const tx = change.transaction;
    if (!tx) return null;
    const key = transactionKey(tx.id);
    if (this.done.has(key)) return null;
    const b = this.buffer(key, tx.id, arrivedMs);
    if (!b.end) b.commitTimeMs = change.commitTimeMs;
    if (!b.ids.has(heldId)) {
      b.ids.add(heldId);
      b.changes.push({ id: heldId, table: change.table, change });
      b.seen.set(change.table, (b.seen.get(change.table) ?? 0) + 1);
    }
    return b;
  }

  /** A change known only by its table (spilled: its record is in the state store). */
  addSpilled(key: string, heldId: string, table: string, sourceMs: number): TxBuffer | null {
    if (this.done.has(key)) return null;
    const b = this.buffer(key, key, sourceMs);
    if (!b.ids.has(heldId)) {
      b.ids.add(heldId);
      b.changes.push({ id: heldId, table, change: null });
      b.seen.set(table, (b.seen.get(table) ?? 0) + 1);
      b.spilled++;
    }
    return b;
  }

  /** Keeps only the table of a buffered change in memory. */
  spill(b: TxBuffer, c: TxChange): void {
    if (c.change === null) return;
    c.change = null;
    b.spilled++;
  }

  /** Complete: END read, and every change it counts for a root or member table seen. */
  complete(b: TxBuffer): boolean {
    if (!b.end) return false;
    for (const [collection, count] of b.end.counts) {
      const table = this.tableOf(collection);
      if (table === null) continue;
      if (BigInt(b.seen.get(table) ?? 0) < count) return false;
    }
    return true;
  }

  /** Whether an END record counts changes of a root or member table (else its transaction is of no aggregate). */
  concerns(collections: readonly { dataCollection: string; eventCount: bigint }[]): boolean {
    return collections.some((c) => c.eventCount > 0n && this.tableOf(c.dataCollection) !== null);
  }

  /** The tracked table a data collection names (Postgres `schema.table`; Oracle `DB.SCHEMA.TABLE`). */
  private tableOf(collection: string): string | null {
    for (const t of this.tables) if (collection === t || collection.endsWith(`.${t}`)) return t;
    return null;
  }

  /** Buffers still incomplete `timeoutMs` after their latest change arrived (source time), or all (`all`). */
  expired(
    sourceNow: number,
    wallNow: number | null,
    heldAt: (b: TxBuffer) => number,
    all = false,
  ): TxBuffer[] {
    // asked after every record: no array unless a buffer is open, no walk over the open buffers while the
    // earliest of them cannot be due yet in source time
    if (this.buffers.size === 0) return [];
    if (!all && wallNow === null && sourceNow - this.earliestSourceMs < this.timeoutMs) return [];
    let earliest = Number.POSITIVE_INFINITY;
    const due: TxBuffer[] = [];
    for (const b of this.buffers.values()) {
      if (b.firstSourceMs < earliest) earliest = b.firstSourceMs;
      if (
        all ||
        sourceNow - b.firstSourceMs >= this.timeoutMs ||
        (wallNow !== null && wallNow - heldAt(b) >= this.timeoutMs)
      )
        due.push(b);
    }
    this.earliestSourceMs = earliest;
    return due;
  }

  /**
   * At most the earliest `firstSourceMs` of the open buffers (a buffer's only grows; an evaluated buffer leaves
   * it lower than need be until the next walk).
   */
  private earliestSourceMs = Number.POSITIVE_INFINITY;

  /** Forgets a buffer once evaluated; its transaction is remembered as done. */
  finish(b: TxBuffer, sourceNow: number): void {
    this.buffers.delete(b.key);
    this.done.set(b.key, sourceNow);
    const roots = new Set<string>();
    for (const c of b.changes) if (c.change && this.isRoot(c.table)) roots.add(rootKey(c.change));
    this.doneRoots.set(b.key, b.spilled ? "*" : roots);
  }

  /** The root rows each evaluated transaction had ("*": all, unknown which) */
  readonly doneRoots = new Map<string, Set<string> | "*">();

  /**
   * Forgets the evaluated transactions remembered before `cutoff` (source time). `ordered`: they were remembered
   * in source-time order (replay, whose source time only grows), so the walk stops at the first one to keep.
   */
  forgetDone(cutoff: number, ordered: boolean): void {
    for (const [key, at] of this.done) {
      if (at >= cutoff) {
        if (ordered) break;
        continue;
      }
      // deleting the entry being visited is safe while iterating a Map
      this.done.delete(key);
      this.doneRoots.delete(key);
    }
  }

  /**
   * A root change that arrives after its transaction was evaluated (timed out before it came): evaluated alone,
   * partial, unless its row was part of the evaluation (a redelivery). Null when there is nothing to do.
   */
  late(root: ChangeEvent): AggregateEvaluation[] | null {
    const key = root.transaction ? transactionKey(root.transaction.id) : null;
    if (key === null || !this.done.has(key) || !this.isRoot(root.table)) return null;
    const roots = this.doneRoots.get(key) ?? "*";
    const pk = rootKey(root);
    if (roots === "*" || roots.has(pk)) return null;
    roots.add(pk);
    const tx = celMap(
      new Map<string, CelInput>([
        ["id", root.transaction?.id ?? key],
        ["event_count", 0n],
      ]),
    );
    // each evaluation's variables are its own: tx set in place (a spread would make the root map now)
    return this.alone(root).map((e) => {
      e.vars.tx = tx;
      return { ...e, txId: key, partial: true };
    });
  }

  /** The evaluations of a transaction: per aggregate, one per root row (its last change), members matched. */
  evaluations(b: TxBuffer, partial: boolean): AggregateEvaluation[] {
    const out: AggregateEvaluation[] = [];
    const txValue = celMap(
      new Map<string, CelInput>([
        ["id", b.id],
        ["event_count", b.end ? b.end.eventCount : BigInt(b.changes.length)],
      ]),
    );
    // in source order within the transaction, whatever order the topics were read in: the same fact (ce_id) has
    // the same member lists in every run, on every worker, and in a migration's backfill
    const changes = [...b.changes].sort((x, y) =>
      x.change && y.change ? comparePositions(x.change.position, y.change.position) : 0,
    );
    for (const aggregate of this.declarations) {
      const roots = new Map<string, TxChange>();
      for (const c of changes) {
        if (c.table !== aggregate.root) continue;
        if (!c.change) throw new Error("internal: a spilled change was not loaded before the evaluation");
        const pk = rootKey(c.change);
        roots.delete(pk); // the last change of a root row counts, in the order of its last change
        roots.set(pk, c);
      }
      for (const [pk, { change: root, id }] of roots) {
        if (!root) continue;
        const members = aggregate.members.map(
          (m) =>
            [m.name, changes.flatMap((c) => (c.table === m.table && c.change ? [c.change] : []))] as const,
        );
        out.push({
          ...this.evaluation(aggregate, root, pk, members, txValue, transactionKey(b.id), partial),
          rootId: id,
          ...(b.end && Number.isFinite(b.commitTimeMs) ? { commitTimeMs: b.commitTimeMs } : {}),
        });
      }
    }
    return out;
  }

  /** A root change outside a transaction (a snapshot row): evaluated alone, with empty member lists. */
  alone(root: ChangeEvent): AggregateEvaluation[] {
    return this.declarations
      .filter((a) => a.root === root.table)
      .map((a) =>
        this.evaluation(
          a,
          root,
          rootKey(root),
          a.members.map((m) => [m.name, []] as const),
          null,
          "",
          false,
        ),
      );
  }

  private evaluation(
    aggregate: AggregateDeclaration,
    root: ChangeEvent,
    pk: string,
    members: readonly (readonly [string, ChangeEvent[]])[],
    tx: unknown,
    txId: string,
    partial: boolean,
  ): AggregateEvaluation {
    return { ...this.variables(aggregate, root, pk, members, tx, txId, partial), rootId: null };
  }

  private variables(
    aggregate: AggregateDeclaration,
    root: ChangeEvent,
    pk: string,
    members: readonly (readonly [string, ChangeEvent[]])[],
    tx: unknown,
    txId: string,
    partial: boolean,
  ): Omit<AggregateEvaluation, "rootId"> {
    const rootBindings = bindingsFor(root);
    // the root as a CEL map is made when CEL first reads it: expressions over the root alone read its
    // bindings as a transform does (compileRootToJs)
    let rootMap: unknown;
    const rootValue = (): unknown => (rootMap ??= changeValue(root, rootBindings));
    const vars: Record<string, unknown> = {};
    Object.defineProperty(vars, "root", { get: rootValue, enumerable: true, configurable: true });
    vars.tx = tx;
    (vars as Record<symbol, unknown>)[ROOT_BINDINGS] = rootBindings;
    let error: MappingError | undefined;
    for (const [name, changes] of members) {
      const m = aggregate.members.find((x) => x.name === name);
      const matched: unknown[] = [];
      for (const change of changes) {
        const memberValue = changeValue(change);
        let ok: unknown;
        try {
          ok = m?.match.evaluate({ member: memberValue, root: rootValue() } as never);
        } catch (err) {
          error ??= new MappingError(
            `aggregate ${aggregate.root}: members.${name}.match: ${(err as Error).message} (member ${change.table} op ${change.op})`,
            aggregate.events[0]?.name ?? aggregate.root,
            null,
            { cause: err },
          );
        }
        if (ok === true) matched.push(memberValue);
      }
      vars[name] = celList(matched as CelInput[]);
    }
    return { aggregate, root, rootKey: pk, vars, txId, partial, ...(error ? { error } : {}) };
  }
}

export function rootKey(change: ChangeEvent): string {
  return change.key ? keyText(keyValues(change.key)) : keyText(null);
}

/** A change as a CEL map: op, before, after, key, source (the mapper's own conversions of the rows). */
function changeValue(change: ChangeEvent, bindings: Bindings = bindingsFor(change)): unknown {
  const b = bindings as unknown as Record<string, unknown>;
  return celMap(
    new Map<string, CelInput>([
      ["op", change.op],
      ["before", b.before as CelInput],
      ["after", b.after as CelInput],
      ["key", b.key as CelInput],
      ["source", b.source as CelInput],
    ]),
  );
}
