// The table state's rules at the level of the view and its store (SQLite in memory): a change is applied once,
// a redelivered change sees the same previous image as when it was first applied (after a crash between the
// state write and the offset commit), an uncommitted batch is undone, and rows round-trip exactly.
import { afterAll, describe, expect, it } from "vitest";
import { parseCaptureLine } from "../../src/decode/kcat.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { UNAVAILABLE, type ChangeEvent, type Row, type SourceRecord } from "../../src/decode/change-event.js";
import { TableStateView } from "../../src/map/table-state.js";
import { indexKeyOf } from "../../src/map/state-declaration.js";
import { decodeRow, encodeRow, keyText, keyValues } from "../../src/map/row-codec.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { KnexTableStateStore } from "../../src/state/table-state-store.js";
import { TableStateRuntime, refOf } from "../../src/worker/table-state-runtime.js";
import { fixtureLine } from "../support/project.js";

const stores: StateStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

function decoded(line: string): { record: SourceRecord; change: ChangeEvent } {
  const parsed = parseCaptureLine(line);
  if (parsed.kind !== "record") throw new Error("not a record");
  const d = decodeDebeziumJson(parsed.record);
  if (d.kind !== "change") throw new Error("not a change");
  return { record: parsed.record, change: d.event };
}

/** Fixture 13 (TOAST placeholders) preceded by a snapshot read of the same row with every value known. */
function documentBatch() {
  const snapshotLine = (() => {
    const line = JSON.parse(fixtureLine("postgres", "13-update-unchanged-toast-columns", 1)) as {
      payload: string;
    };
    const value = JSON.parse(line.payload) as { payload: Record<string, unknown> };
    value.payload.op = "r";
    value.payload.after = {
      id: 1,
      title: "Quarterly report",
      body: "A long body",
      attributes: '{"n": 9007199254740993}',
      tags: ["a"],
      content: Buffer.from([0, 255]).toString("base64"),
      scores: [1],
    };
    (value.payload.source as Record<string, unknown>).lsn = 34083000;
    return JSON.stringify({ ...line, payload: JSON.stringify(value) });
  })();
  return [decoded(snapshotLine), decoded(fixtureLine("postgres", "13-update-unchanged-toast-columns", 2))];
}

const declarations = [{ table: "inventory.documents", indexes: [], file: "d.yaml", line: 1 }];

async function runtimeOn(state: StateStore): Promise<TableStateRuntime> {
  const view = new TableStateView(declarations, { ordering: "position" }, indexKeyOf);
  const runtime = new TableStateRuntime(view, new KnexTableStateStore(state.knex, "p"), []);
  await runtime.start();
  return runtime;
}

async function processBatch(runtime: TableStateRuntime, batch: ReturnType<typeof documentBatch>) {
  await runtime.prepare({
    records: batch.map((b) => b.record),
    changes: new Map(batch.map((b) => [b.record, b.change])),
  });
  return batch.map((b) => runtime.view.apply(b.change, refOf(b.record)));
}

describe("table state view and store", () => {
  it("a redelivered batch (crash after the state write, before the commit) sees the same images and writes nothing", async () => {
    const state = await openStateStore("sqlite::memory:");
    stores.push(state);
    const first = await runtimeOn(state);
    const before = await processBatch(first, documentBatch());
    expect(before[1]!.after).toMatchObject({ body: "A long body", tags: ["a"], scores: [1n] });
    expect(before[1]!.before).toMatchObject({ title: "Quarterly report" });
    await first.beforeCommit();

    // restart: a new worker on the same store gets the same records again
    const second = await runtimeOn(state);
    const again = await processBatch(second, documentBatch());
    expect(again.map((c) => [c.before, c.after])).toEqual(before.map((c) => [c.before, c.after]));
    expect(second.view.pendingWrites().rows).toEqual([]);
  });

  it("a change older than the row is not applied again; a newer one is", async () => {
    const view = new TableStateView(declarations, { ordering: "position" }, indexKeyOf);
    const [snapshot, update] = documentBatch();
    view.apply(update!.change, refOf(update!.record));
    view.apply(snapshot!.change, refOf(snapshot!.record));
    expect(view.lookup("inventory.documents", 1n)).toMatchObject({ title: "Quarterly report v2" });
    expect(view.pendingWrites().rows).toHaveLength(1);
  });

  it("an abandoned batch (delivery given up) is undone in memory", async () => {
    const view = new TableStateView(declarations, { ordering: "position" }, indexKeyOf);
    const [snapshot, update] = documentBatch();
    view.apply(snapshot!.change, refOf(snapshot!.record));
    view.written();
    view.apply(update!.change, refOf(update!.record));
    view.rollback();
    expect(view.lookup("inventory.documents", [1n])).toMatchObject({ title: "Quarterly report" });
    expect(view.pendingWrites().rows).toEqual([]);
  });

  it("a delete then an older create (redelivered snapshot) does not resurrect the row", async () => {
    const view = new TableStateView(
      [{ table: "inventory.customers", indexes: [], file: "c.yaml", line: 1 }],
      { ordering: "position" },
      indexKeyOf,
    );
    const snapshot = decoded(fixtureLine("postgres", "03-snapshot-read-1003-true", 3));
    const deletion = decoded(fixtureLine("postgres", "07-delete-replica-identity-default", 7));
    view.apply(snapshot.change, refOf(snapshot.record));
    const applied = view.apply(deletion.change, refOf(deletion.record));
    expect(applied.before).toMatchObject({ email: "ed@walker.com" });
    view.apply(snapshot.change, refOf(snapshot.record));
    expect(view.lookup("inventory.customers", 1003n)).toBeNull();
  });
});

/** A change of crm.t built by hand: the view needs only op, table, key, images and position. */
function handChange(
  op: ChangeEvent["op"],
  lsn: number,
  after: Row | null,
  before: Row | null = null,
): ChangeEvent {
  return {
    op,
    table: "crm.t",
    before,
    after,
    key: { id: 1n },
    source: {},
    transaction: null,
    commitTimeMs: 0,
    processedTimeMs: null,
    position: {
      connector: "postgresql",
      commit: String(lsn),
      change: String(lsn),
      order: 0n,
      detail: "",
      snapshot: false,
    },
  };
}

describe("placeholder forms", () => {
  it("fills the decoder's marker and the text forms of binary columns (base64, hex) from the previous image", () => {
    const view = new TableStateView(
      [{ table: "crm.t", indexes: [], file: "t.yaml", line: 1 }],
      { ordering: "position" },
      indexKeyOf,
    );
    const ref = (offset: number) => ({ topic: "t", partition: 0, offset: String(offset) });
    const full: Row = {
      id: 1n,
      a: "text",
      b: "3q2+7w==",
      c: "deadbeef",
      d: "DEADBEEF",
      e: new Uint8Array([1]),
      f: ["x"],
    };
    view.apply(handChange("c", 10, full), ref(1));
    const base64 = Buffer.from("__debezium_unavailable_value").toString("base64");
    const hex = Buffer.from("__debezium_unavailable_value").toString("hex");
    const update = view.apply(
      handChange("u", 20, {
        id: 1n,
        a: "__debezium_unavailable_value",
        b: base64,
        c: hex,
        d: hex.toUpperCase(),
        e: UNAVAILABLE,
        f: UNAVAILABLE,
      }),
      ref(2),
    );
    expect(update.after).toEqual(full);
    expect(update.before).toEqual(full);
    // the filled image is the row's state: a later update fills from it
    const later = view.apply(handChange("u", 30, { ...full, a: "new", e: UNAVAILABLE }), ref(3));
    expect(later.after).toEqual({ ...full, a: "new" });
  });

  it("without a previous image nothing is filled and before stays as sent", () => {
    const view = new TableStateView(
      [{ table: "crm.t", indexes: [], file: "t.yaml", line: 1 }],
      { ordering: "position" },
      indexKeyOf,
    );
    const change = handChange("u", 20, { id: 1n, a: UNAVAILABLE });
    const applied = view.apply(change, { topic: "t", partition: 0, offset: "1" });
    expect(applied.after).toEqual({ id: 1n, a: UNAVAILABLE });
    expect(applied.before).toBeNull();
  });
});

describe("row codec", () => {
  it("round-trips every decoded value exactly", () => {
    const row: Row = {
      big: 9007199254740993n,
      neg: -1n,
      d: 1.5,
      nan: Number.NaN,
      inf: Number.NEGATIVE_INFINITY,
      negZero: -0,
      s: "text",
      b: new Uint8Array([0, 1, 255]),
      none: null,
      t: true,
      list: [1n, null, "x"],
      nested: { a: { b: [new Uint8Array([7])] } },
      gone: UNAVAILABLE,
    };
    Object.defineProperty(row, "__proto__", {
      value: "col",
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const back = decodeRow(encodeRow(row));
    expect(back).toEqual(row);
    expect(Object.is(back.negZero, -0)).toBe(true);
    expect(back.gone).toBe(UNAVAILABLE);
    expect(Object.getOwnPropertyDescriptor(back, "__proto__")?.value).toBe("col");
  });

  it("gives one key text for a key however its value is typed", () => {
    expect(keyText(1001n)).toBe(keyText([1001]));
    expect(keyText(1001n)).toBe(keyText(keyValues({ id: 1001n })));
    expect(keyText("1001")).toBe(keyText(1001.0));
    expect(keyText(["A", 1n])).toBe(keyText(keyValues({ t: "A", c: 1n })));
    expect(keyText(["A", 1n])).not.toBe(keyText(["A1"]));
  });
});
