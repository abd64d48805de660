// Dependencies (`requires:`, docs/state.md): a change whose parent row is not in the table state yet is parked,
// and released when the parent row arrives, in source order per child key. This is the in-memory bookkeeping;
// held-changes.ts keeps it in the state store and turns releases into published records.
import type { ChangeEvent } from "../decode/change-event.js";
import { bindingsFor, MappingError } from "../map/mapper.js";
import type { RequireDeclaration } from "../map/requires.js";
import { keyText, keyValues } from "../map/row-codec.js";
import { ChangecastError } from "../errors.js";

/** Answers whether a parent row is in the table state (the in-memory view; sync). */
export interface ParentRows {
  present(table: string, key: unknown): boolean;
}

/** A parked change. */
export interface Parked {
  /** identity: the held row's id (stored) or a sequence (replay) */
  id: string;
  childTable: string;
  /** `<child table>\0<child key text>`: the FIFO queue it waits in */
  child: string;
  /** null: it waits only behind earlier changes of its child key */
  parent: { table: string; keyText: string; key: unknown; require: number } | null;
  sourceTimeMs: number;
  heldAtMs: number;
}

/** What became of a parked change. */
export type ReleaseKind = "released" | "publish" | "dead-letter";
export interface Release {
  entry: Parked;
  as: ReleaseKind;
}

/** A parked change that timed out with `onTimeout: dead-letter`: names the parent table and key. */
export class DependencyTimeoutError extends ChangecastError {
  readonly code = "MAP_DEPENDENCY_TIMEOUT";
  override readonly name = "DependencyTimeoutError";
}

export function parentId(table: string, key: string): string {
  return `${table}\u0000${key}`;
}

export class Dependencies {
  private readonly queues = new Map<string, Parked[]>();
  private readonly byParent = new Map<string, Set<Parked>>();
  private readonly byId = new Map<string, Parked>();
  /** parents applied since the last drain (the table state's row-applied listener) */
  private readonly applied: string[] = [];
  /**
   * parents known to be on their way (Kafka bootstrap: in a parent topic, not processed yet): their children do not
   * time out in source time — the group may read the parent's partition after theirs —, only by the clock
   */
  private readonly expected = new Set<string>();
  /** no parked change times out before these (source time, clock): expire() has nothing to do until then */
  private nextDue = Number.POSITIVE_INFINITY;
  private nextWallDue = Number.POSITIVE_INFINITY;

  constructor(
    /** the `requires` of each child table, in file order */
    readonly requires: ReadonlyMap<string, readonly RequireDeclaration[]>,
    private readonly parents: ParentRows,
  ) {}

  get size(): number {
    return this.byId.size;
  }
  has(id: string): boolean {
    return this.byId.has(id);
  }
  entries(): Parked[] {
    return [...this.byId.values()];
  }
  clear(): void {
    this.queues.clear();
    this.byParent.clear();
    this.byId.clear();
    this.applied.length = 0;
    this.nextDue = Number.POSITIVE_INFINITY;
    this.nextWallDue = Number.POSITIVE_INFINITY;
  }

  /** The child queue id of a change. */
  childOf(change: ChangeEvent): string {
    return `${change.table}\u0000${change.key ? keyText(keyValues(change.key)) : "\u0000none"}`;
  }

  /**
   * Whether the change must wait: behind earlier parked changes of its child key, or for the first required
   * parent that is missing. Throws a MappingError when a require's `when` or `key` cannot be evaluated.
   */
  check(change: ChangeEvent): { child: string; parent: Parked["parent"] } | null {
    const requires = this.requires.get(change.table);
    if (!requires?.length) return null;
    const child = this.childOf(change);
    const blocked = (this.queues.get(child)?.length ?? 0) > 0;
    const vars = bindingsFor(change);
    let first: Parked["parent"] = null;
    for (const [i, r] of requires.entries()) {
      let waits: unknown;
      let key: unknown;
      try {
        waits = r.when.evaluate(vars);
        if (waits !== true) continue;
        key = r.key.evaluate(vars);
      } catch (err) {
        // the change's mapping error (MAP), as for an event's expression
        throw new MappingError(
          `requires ${r.table}: ${(err as Error).message}`,
          `requires ${r.table}`,
          null,
          {
            cause: err,
          },
        );
      }
      // no parent to wait for: a nullable foreign key, or a composite one with a null column (SQL's MATCH SIMPLE:
      // such a row references nothing)
      if (key === null || key === undefined) continue;
      if (Array.isArray(key) && key.some((k) => k === null || k === undefined)) continue;
      if (!this.parents.present(r.table, key)) {
        first = { table: r.table, keyText: keyText(key), key, require: i };
        break;
      }
    }
    return blocked || first ? { child, parent: first } : null;
  }

  /** Adds a parked change at the end of its child queue. */
  park(entry: Parked): void {
    if (this.byId.has(entry.id)) return;
    this.byId.set(entry.id, entry);
    this.noteDue(entry);
    const queue = this.queues.get(entry.child) ?? [];
    queue.push(entry);
    this.queues.set(entry.child, queue);
    if (entry.parent) {
      const pid = parentId(entry.parent.table, entry.parent.keyText);
      const set = this.byParent.get(pid) ?? new Set();
      set.add(entry);
      this.byParent.set(pid, set);
    }
  }

  /** The table state applied a row (not a delete) of `table` with primary key text `pk`. */
  parentApplied(table: string, pk: string): void {
    this.expected.delete(parentId(table, pk));
    if (this.byParent.has(parentId(table, pk))) this.applied.push(parentId(table, pk));
  }

  /** A row of parent `table` with primary key text `pk` is on its way (see `expected`). */
  expectParent(table: string, pk: string): void {
    this.expected.add(parentId(table, pk));
  }

  /** Releases made possible by the parents applied since the last call, in source order per child key. */
  drainApplied(): Release[] {
    const out: Release[] = [];
    while (this.applied.length) {
      const pid = this.applied.shift() as string;
      for (const entry of [...(this.byParent.get(pid) ?? [])]) this.drain(entry.child, out, null);
    }
    return out;
  }

  /** Heads of child queues whose parent is present now (it arrived through another worker), released. */
  sweep(only?: (entry: Parked) => boolean): Release[] {
    const out: Release[] = [];
    for (const [child, queue] of [...this.queues]) {
      const head = queue[0];
      if (head && (!only || only(head))) this.drain(child, out, null);
    }
    return out;
  }

  /**
   * Changes held too long: source time (`sourceNow`, the latest commit time processed) or, when `wallNow` is
   * given, the clock. Each timed-out head is published or dead-lettered per its require; what waited behind it
   * is then released or keeps waiting.
   */
  expire(sourceNow: number, wallNow: number | null, only?: (entry: Parked) => boolean): Release[] {
    const out: Release[] = [];
    if (sourceNow < this.nextDue && (wallNow === null || wallNow < this.nextWallDue)) return out;
    for (const [child, queue] of [...this.queues]) {
      const head = queue[0];
      if (head && (!only || only(head))) this.drain(child, out, { sourceNow, wallNow });
    }
    // the next deadlines of what is still parked
    this.nextDue = Number.POSITIVE_INFINITY;
    this.nextWallDue = Number.POSITIVE_INFINITY;
    for (const entry of this.byId.values()) this.noteDue(entry);
    return out;
  }

  /** Moves the next deadlines up to `entry`'s (a parent on its way: the clock's only). */
  private noteDue(entry: Parked): void {
    const { ms } = this.timeoutOf(entry);
    if (!this.coming(entry)) this.nextDue = Math.min(this.nextDue, entry.sourceTimeMs + ms);
    this.nextWallDue = Math.min(this.nextWallDue, entry.heldAtMs + ms);
  }

  private coming(entry: Parked): boolean {
    return entry.parent !== null && this.expected.has(parentId(entry.parent.table, entry.parent.keyText));
  }

  /** Everything still parked, timed out in source order per child key (replay: end of input). */
  expireAll(): Release[] {
    return this.expire(Number.MAX_SAFE_INTEGER, null);
  }

  /** Removes an entry released elsewhere (another worker). */
  remove(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    const queue = this.queues.get(entry.child);
    if (queue) {
      const i = queue.indexOf(entry);
      if (i >= 0) queue.splice(i, 1);
      if (!queue.length) this.queues.delete(entry.child);
    }
    if (entry.parent) {
      const pid = parentId(entry.parent.table, entry.parent.keyText);
      this.byParent.get(pid)?.delete(entry);
      if (!this.byParent.get(pid)?.size) this.byParent.delete(pid);
    }
  }

  private timeoutOf(entry: Parked): { ms: number; onTimeout: "dead-letter" | "publish" } {
    const requires = this.requires.get(entry.childTable) ?? [];
    const r = entry.parent ? requires[entry.parent.require] : undefined;
    // a change waiting only behind its key's earlier changes times out with the shortest timeout of its table
    const ms = r?.timeoutMs ?? Math.min(...requires.map((x) => x.timeoutMs), Number.MAX_SAFE_INTEGER);
    return { ms, onTimeout: r?.onTimeout ?? "publish" };
  }

  /** Releases the heads of one child queue while they can go (parent present, or timed out when `clock`). */
  private drain(
    child: string,
    out: Release[],
    clock: { sourceNow: number; wallNow: number | null } | null,
  ): void {
    const queue = this.queues.get(child);
    while (queue?.length) {
      const head = queue[0] as Parked;
      const present = !head.parent || this.parents.present(head.parent.table, head.parent.key);
      let as: ReleaseKind | null = present ? "released" : null;
      if (!as && clock) {
        const { ms, onTimeout } = this.timeoutOf(head);
        const late =
          (!this.coming(head) && clock.sourceNow - head.sourceTimeMs >= ms) ||
          (clock.wallNow !== null && clock.wallNow - head.heldAtMs >= ms);
        if (late) as = onTimeout;
      }
      if (!as) return;
      this.remove(head.id);
      out.push({ entry: head, as });
    }
  }

  /** The dead letter's error of a timed-out change. */
  timeoutError(entry: Parked): DependencyTimeoutError {
    const { ms } = this.timeoutOf(entry);
    const p = entry.parent;
    return new DependencyTimeoutError(
      p
        ? `parent ${p.table} key ${p.keyText} did not arrive within ${ms} ms (requires timeout)`
        : `an earlier change of the same key waited for its parent too long (requires timeout ${ms} ms)`,
    );
  }
}
