// The bookkeeping of held changes, in memory: which changes wait, in which order they go, when they time out
// (dependencies); when a transaction is complete and what each evaluation sees (aggregates).
import { describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { parseCaptureLine } from "../../src/decode/kcat.js";
import { compileExpression } from "../../src/map/expression.js";
import { keyText } from "../../src/map/row-codec.js";
import type { RequireDeclaration } from "../../src/map/requires.js";
import type { AggregateDeclaration } from "../../src/map/aggregate-file.js";
import { Dependencies, type Parked } from "../../src/worker/dependencies.js";
import { Aggregates, transactionKey } from "../../src/worker/aggregates.js";
import { changeLine, line, order, phone } from "./support.js";

function change(kcat: string): ChangeEvent {
  const parsed = parseCaptureLine(kcat);
  if (parsed.kind !== "record") throw new Error("not a record");
  const decoded = decodeDebeziumJson(parsed.record, { topicPrefix: "dbserver1" });
  if (decoded.kind !== "change") throw new Error("not a change");
  return decoded.event;
}

const requires = (
  timeoutMs = 60_000,
  onTimeout: "publish" | "dead-letter" = "dead-letter",
): RequireDeclaration => ({
  table: "crm.persons",
  key: compileExpression("after.person_id"),
  when: compileExpression('op != "d"'),
  timeoutMs,
  onTimeout,
  file: "phones.yaml",
  line: 2,
});

function setUp(r = requires()) {
  const present = new Set<string>();
  const deps = new Dependencies(new Map([["crm.phones", [r]]]), {
    present: (table, key) => present.has(`${table}/${keyText(key)}`),
  });
  let n = 0;
  const offer = (c: ChangeEvent): Parked | null => {
    const wait = deps.check(c);
    if (!wait) return null;
    const entry: Parked = {
      id: `#${++n}`,
      childTable: c.table,
      child: wait.child,
      parent: wait.parent,
      sourceTimeMs: c.commitTimeMs,
      heldAtMs: 0,
    };
    deps.park(entry);
    return entry;
  };
  const arrive = (id: number) => {
    present.add(`crm.persons/${keyText(BigInt(id))}`);
    deps.parentApplied("crm.persons", keyText(BigInt(id)));
  };
  return { deps, offer, arrive, present };
}

describe("dependencies", () => {
  it("parks only what waits: a missing parent, or an earlier parked change of the same key", () => {
    const { offer, present } = setUp();
    present.add(`crm.persons/${keyText(1n)}`);
    expect(offer(change(phone(1, 1, 100)))).toBeNull(); // parent present
    expect(offer(change(phone(2, 2, 101)))?.parent?.keyText).toBe(keyText(2n));
    expect(offer(change(phone(3, 2, 102, "d")))).toBeNull(); // a delete does not wait (when)
    // phone 2's delete waits behind its parked create, although deletes wait for no parent
    expect(offer(change(phone(2, 2, 103, "d")))?.parent).toBeNull();
    // a null foreign key waits for nothing
    const orphan = changeLine({
      table: "crm.phones",
      op: "c",
      key: { id: 9 },
      after: { id: 9, person_id: null },
      ts: 1,
      lsn: 104,
    });
    expect(offer(change(orphan))).toBeNull();
  });

  it("releases per child key in source order, stopping at a change whose own parent is missing", () => {
    const { deps, offer, arrive } = setUp();
    offer(change(phone(1, 10, 100)));
    offer(change(phone(1, 11, 101, "u"))); // moved to person 11, behind the first
    offer(change(phone(1, 10, 102, "u")));
    offer(change(phone(2, 10, 103)));
    arrive(10);
    expect(deps.drainApplied().map((r) => r.entry.id)).toEqual(["#1", "#4"]);
    arrive(11);
    expect(deps.drainApplied().map((r) => `${r.entry.id}:${r.as}`)).toEqual(["#2:released", "#3:released"]);
    expect(deps.size).toBe(0);
  });

  it("times out the head in source time, then lets what waited behind it go", () => {
    const { deps, offer, present } = setUp(requires(60_000, "dead-letter"));
    offer(change(phone(1, 10, 100, "c", 1_000_000)));
    offer(change(phone(1, 12, 101, "u", 1_010_000)));
    present.add(`crm.persons/${keyText(12n)}`);
    expect(deps.expire(1_059_999, null)).toEqual([]);
    expect(deps.expire(1_060_000, null).map((r) => `${r.entry.id}:${r.as}`)).toEqual([
      "#1:dead-letter",
      "#2:released",
    ]);
    expect(deps.timeoutError(offerless(10)).message).toContain("crm.persons key");
  });

  it("times out by the clock in run, and everything at the end of a replay", () => {
    const { deps, offer } = setUp(requires(60_000, "publish"));
    for (const entry of [
      offer(change(phone(1, 10, 100, "c", 1_000_000))),
      offer(change(phone(2, 11, 101, "c", 1_000_000))),
    ])
      if (entry) entry.heldAtMs = 5_000; // parked at 5 s by the clock
    expect(deps.expire(0, 64_999)).toEqual([]);
    expect(deps.expire(0, 65_000).map((r) => `${r.entry.id}:${r.as}`)).toEqual(["#1:publish", "#2:publish"]);
    offer(change(phone(3, 11, 102)));
    expect(deps.expireAll().map((r) => r.as)).toEqual(["publish"]);
  });

  it("a parent known to be on its way (Kafka bootstrap) is waited for by the clock only, not in source time", () => {
    const { deps, offer, arrive } = setUp(requires(60_000, "dead-letter"));
    deps.expectParent("crm.persons", keyText(10n));
    const coming = offer(change(phone(1, 10, 100, "c", 1_000_000)));
    const missing = offer(change(phone(2, 11, 101, "c", 1_000_000)));
    for (const entry of [coming, missing]) if (entry) entry.heldAtMs = 5_000;
    // an hour of source time later: only the child whose parent is not on its way times out
    expect(deps.expire(4_600_000, 6_000).map((r) => `${r.entry.id}:${r.as}`)).toEqual(["#2:dead-letter"]);
    // the clock still applies
    expect(deps.expire(4_600_000, 65_000).map((r) => `${r.entry.id}:${r.as}`)).toEqual(["#1:dead-letter"]);
    // a noted parent releases its children when it is applied, as any other
    offer(change(phone(3, 12, 102, "c", 5_000_000)));
    deps.expectParent("crm.persons", keyText(12n));
    arrive(12);
    expect(deps.drainApplied().map((r) => `${r.entry.id}:${r.as}`)).toEqual(["#3:released"]);
  });
});

function offerless(parent: number): Parked {
  return {
    id: "x",
    childTable: "crm.phones",
    child: "crm.phones\u0000x",
    parent: { table: "crm.persons", keyText: keyText(BigInt(parent)), key: BigInt(parent), require: 0 },
    sourceTimeMs: 0,
    heldAtMs: 0,
  };
}

const aggregate: AggregateDeclaration = {
  root: "inventory.orders",
  members: [
    {
      name: "lines",
      table: "inventory.order_lines",
      match: compileExpression("member.after.order_id == root.after.id", undefined, ["member", "root"]),
      line: 3,
    },
  ],
  events: [],
  file: "order-placed.yaml",
};

describe("aggregates", () => {
  it("is complete when END is read and its counts for the root and member tables are met", () => {
    const a = new Aggregates([aggregate], 60_000);
    const b = a.addChange(change(order(1, 5, 10)), "o1")!;
    a.addChange(change(line(1, 1, 5, 11)), "l1");
    expect(a.complete(b)).toBe(false); // no END yet
    a.addEnd(
      "5:13",
      "end",
      4n,
      [
        { dataCollection: "inventory.orders", eventCount: 1n },
        { dataCollection: "inventory.order_lines", eventCount: 2n },
        { dataCollection: "inventory.customers", eventCount: 1n }, // not tracked: not waited for
      ],
      2_000_000,
    );
    expect(a.complete(b)).toBe(false);
    a.addChange(change(line(2, 1, 5, 12)), "l2");
    expect(a.complete(b)).toBe(true);
    const [evaluation] = a.evaluations(b, false);
    expect(evaluation?.txId).toBe("5");
    expect(evaluation?.rootKey).toBe(keyText(1n));
  });

  it("counts a primary-key update twice (delete and create) and evaluates the root row's last change", () => {
    const a = new Aggregates([aggregate], 60_000);
    const del = changeLine({
      table: "inventory.orders",
      op: "d",
      key: { id: 1 },
      before: { id: 1 },
      ts: 2_000_000,
      lsn: 20,
      txId: 6,
    });
    const create = changeLine({
      table: "inventory.orders",
      op: "c",
      key: { id: 2 },
      after: { id: 2 },
      ts: 2_000_000,
      lsn: 21,
      txId: 6,
    });
    const upd = changeLine({
      table: "inventory.orders",
      op: "u",
      key: { id: 2 },
      after: { id: 2, customer: 8 },
      ts: 2_000_000,
      lsn: 22,
      txId: 6,
    });
    const b = a.addEnd(
      "6:23",
      "end",
      3n,
      [{ dataCollection: "postgres.inventory.orders", eventCount: 3n }],
      2_000_000,
    )!;
    a.addChange(change(del), "d");
    a.addChange(change(create), "c");
    expect(a.complete(b)).toBe(false);
    a.addChange(change(upd), "u");
    expect(a.complete(b)).toBe(true);
    expect(a.evaluations(b, false).map((e) => `${e.rootKey}:${e.root.op}`)).toEqual([
      `${keyText(1n)}:d`,
      `${keyText(2n)}:u`,
    ]);
  });

  it("a transaction evaluated is done: its late changes are not buffered again; ids correlate on txId", () => {
    const a = new Aggregates([aggregate], 60_000);
    const b = a.addChange(change(order(1, 7, 30)), "o")!;
    a.finish(b, 0);
    expect(a.addChange(change(line(1, 1, 7, 31)), "l")).toBeNull();
    expect(transactionKey("777:34085464")).toBe("777");
    expect(transactionKey("0a001b00c5060000")).toBe("0a001b00c5060000");
  });

  it("an END read before its data does not start the timeout; an END of no aggregate's tables is of no concern", () => {
    const a = new Aggregates([aggregate], 60_000);
    const counts = [{ dataCollection: "inventory.order_lines", eventCount: 1n }];
    a.addEnd("9:50", "end", 1n, counts, 1_000_000);
    expect(a.expired(9_000_000, null, () => 0)).toHaveLength(0);
    expect(a.concerns(counts)).toBe(true);
    expect(a.concerns([{ dataCollection: "inventory.customers", eventCount: 3n }])).toBe(false);
  });

  it("times out incomplete transactions in source time", () => {
    const a = new Aggregates([aggregate], 60_000);
    a.addChange(change(order(1, 8, 40, 1_000_000)), "o");
    expect(a.expired(1_059_999, null, () => 0)).toHaveLength(0);
    expect(a.expired(1_060_000, null, () => 0)).toHaveLength(1);
  });
});
