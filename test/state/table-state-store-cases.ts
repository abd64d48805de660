// The table-state store's rules, run against SQLite (table-state-store.test.ts) and Postgres
// (postgres-table-state.test.ts): conditional upserts, history and its pruning, truncates, the write sequence
// other workers poll, applied offsets.
import { expect, it } from "vitest";
import type { StateStore } from "../../src/state/store.js";
import { KnexTableStateStore, type RowWrite } from "../../src/state/table-state-store.js";

const pos = (n: number) => String(n).padStart(10, "0");
const src = (offset: number) => ({ topic: "t", partition: 0, offset: String(offset) });

function row(pk: string, image: string | null, position: number, prev: string | null = null): RowWrite {
  return {
    table: "s.t",
    pk,
    image,
    position: pos(position),
    prevImage: prev,
    prevPosition: null,
    source: src(position),
  };
}

const empty = { rows: [], truncates: [], applied: [], prune: [] };

export function tableStateStoreCases(open: () => Promise<StateStore>): void {
  it("keeps the newest image per key: an older or equal position never overwrites", async () => {
    const state = await open();
    const store = new KnexTableStateStore(state.knex, `p-${Math.random()}`);
    await store.write({ ...empty, rows: [row("a", "v2", 20), row("b", "b1", 5)] });
    await store.write({ ...empty, rows: [row("a", "v1", 10), row("b", "b2", 6)] });
    await store.write({ ...empty, rows: [row("a", "v1-again", 20)] });
    const rows = await store.rows("s.t", ["a", "b", "c"]);
    expect(rows.map((r) => [r.pk, r.image, r.position]).sort()).toEqual([
      ["a", "v2", pos(20)],
      ["b", "b2", pos(6)],
    ]);
  });

  it("keeps the previous image per applied change, and prunes committed history but the latest of a key", async () => {
    const state = await open();
    const store = new KnexTableStateStore(state.knex, `p-${Math.random()}`);
    await store.write({ ...empty, rows: [row("a", "v1", 1, null), row("a", "v2", 2, "v1")] });
    const wanted = [1, 2, 3].map((n) => ({ pk: "a", position: pos(n) }));
    expect((await store.history("s.t", wanted)).map((h) => h.prevImage).sort()).toEqual([null, "v1"].sort());
    // the next batch starts at offset 3 (1..2 are committed) and changes "a" again: its older entries go
    await store.write({
      ...empty,
      rows: [row("a", "v3", 3, "v2")],
      prune: [{ topic: "t", partition: 0, below: "3" }],
    });
    expect((await store.history("s.t", wanted)).map((h) => [h.position, h.prevImage])).toEqual([
      [pos(3), "v2"],
    ]);
    // a later batch that does not change "a" leaves its latest entry alone
    await store.write({
      ...empty,
      rows: [row("b", "b1", 5)],
      prune: [{ topic: "t", partition: 0, below: "5" }],
    });
    expect((await store.history("s.t", wanted)).map((h) => h.position)).toEqual([pos(3)]);
  });

  it("a truncate deletes the rows older than it, not the newer ones", async () => {
    const state = await open();
    const store = new KnexTableStateStore(state.knex, `p-${Math.random()}`);
    await store.write({ ...empty, rows: [row("a", "a1", 1), row("b", "b1", 9)] });
    await store.write({ ...empty, truncates: [{ table: "s.t", position: pos(5) }] });
    const rows = await store.rows("s.t", ["a", "b"]);
    expect(rows.map((r) => [r.pk, r.image]).sort()).toEqual([
      ["a", null],
      ["b", "b1"],
    ]);
  });

  it("hands out what was written after a sequence number, and the sequence it is current to", async () => {
    const state = await open();
    const store = new KnexTableStateStore(state.knex, `p-${Math.random()}`);
    expect(await store.currentSeq()).toBe(0);
    await store.write({ ...empty, rows: [row("a", "a1", 1)] });
    const first = await store.changesSince(0, ["s.t"]);
    expect(first.rows.map((r) => r.pk)).toEqual(["a"]);
    await store.write({ ...empty, rows: [row("b", "b1", 2)] });
    const second = await store.changesSince(first.seq, ["s.t"]);
    expect(second.rows.map((r) => r.pk)).toEqual(["b"]);
    expect(second.seq).toBeGreaterThan(first.seq);
    expect((await store.changesSince(second.seq, ["s.t"])).rows).toEqual([]);
    expect((await store.scan("s.t", null, 10)).map((r) => r.pk)).toEqual(["a", "b"]);
    expect((await store.scan("s.t", "a", 10)).map((r) => r.pk)).toEqual(["b"]);
  });

  it("records the applied offset per partition, never moving it back", async () => {
    const state = await open();
    const store = new KnexTableStateStore(state.knex, `p-${Math.random()}`);
    await store.write({ ...empty, applied: [{ topic: "t", partition: 0, next: "10" }] });
    await store.write({ ...empty, applied: [{ topic: "t", partition: 0, next: "4" }] });
    await store.write({ ...empty, applied: [{ topic: "t", partition: 1, next: "3" }] });
    expect(await store.appliedOffsets(["t"])).toEqual(
      new Map([
        ["t/0", 10n],
        ["t/1", 3n],
      ]),
    );
  });

  it("concurrent writers: a reader polling the sequence misses no write", async () => {
    const state = await open();
    const pipeline = `p-${Math.random()}`;
    const writers = [0, 1, 2].map(() => new KnexTableStateStore(state.knex, pipeline));
    const reader = new KnexTableStateStore(state.knex, pipeline);
    const seen = new Set<string>();
    let seq = 0;
    let done = false;
    const polling = (async () => {
      while (!done) {
        const delta = await reader.changesSince(seq, ["s.t"]);
        for (const r of delta.rows) seen.add(r.pk);
        seq = delta.seq;
      }
    })();
    await Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n < 15; n++) await w.write({ ...empty, rows: [row(`k${i}-${n}`, "x", n + 1)] });
      }),
    );
    done = true;
    await polling;
    for (const r of (await reader.changesSince(seq, ["s.t"])).rows) seen.add(r.pk);
    expect(seen.size).toBe(45);
  });
}
