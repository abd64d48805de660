// The switch-over computation on topics shaped like Kafka's: equal partition counts (exact by offsets) and a new
// topic with more partitions (earliest safe offsets plus the switch filter).
import { describe, expect, it } from "vitest";
import { computeSwitch, createSwitchFilter, type TopicSnapshot } from "../../src/migrate/switch.js";

/** Facts 1..n keyed k(i % keys), spread over `partitions` by key, in order; ce_id "f<i>". */
function topic(
  name: string,
  facts: number[],
  partitions: number,
  keyOf: (i: number) => number,
): TopicSnapshot {
  const parts = Array.from({ length: partitions }, (_, partition) => ({
    partition,
    records: [] as { offset: bigint; ceId: string; position: string }[],
    end: 0n,
  }));
  for (const i of facts) {
    const p = parts[keyOf(i) % partitions]!;
    p.records.push({ offset: p.end, ceId: `f${i}`, position: `postgresql:${i}:${i}:0` });
    p.end++;
  }
  return { topic: name, partitions: parts };
}

/** A consumer of the new topic from the plan's offsets, through the filter. */
function consumeFrom(snapshot: TopicSnapshot, starts: Map<number, bigint>, skipIds: string[]): string[] {
  const filter = createSwitchFilter(skipIds);
  const out: string[] = [];
  for (const p of snapshot.partitions) {
    for (const r of p.records)
      if (r.offset >= (starts.get(p.partition) ?? 0n) && filter.accept({ ce_id: Buffer.from(r.ceId) }))
        out.push(r.ceId);
  }
  return out;
}

const all = Array.from({ length: 400 }, (_, i) => i + 1);
const key = (i: number) => (i * 7919) % 97;

describe("computeSwitch", () => {
  it("equal partition counts and the same key: exact by offsets, no filter", () => {
    const old = topic("v1", all, 4, key);
    const neu = topic(
      "v2",
      all.filter((i) => i > 100),
      4,
      key,
    ); // started after fact 100
    // the group processed 60 records of every old partition (all of facts 1..100 included)
    const committed = new Map(old.partitions.map((p) => [p.partition, 60n]));
    const processed = new Set(
      old.partitions.flatMap((p) => p.records.filter((r) => r.offset < 60n).map((r) => r.ceId)),
    );
    const plan = computeSwitch(old, neu, committed);
    expect(plan.case).toBe("exact");
    expect(plan.skipIds).toEqual([]);
    const rest = consumeFrom(neu, new Map(plan.starts.map((s) => [s.partition, s.offset])), []);
    expect(new Set([...processed, ...rest]).size).toBe(400);
    expect(processed.size + rest.length).toBe(400);
  });

  it("different partition counts: earliest safe offsets plus a filter, still each fact once", () => {
    const old = topic("v1", all, 3, key);
    const neu = topic("v2", all, 5, (i) => key(i) * 31 + 1);
    const committed = new Map([
      [0, 90n],
      [1, 10n],
      [2, 130n],
    ]);
    const processed = new Set(
      old.partitions.flatMap((p) =>
        p.records.filter((r) => r.offset < (committed.get(p.partition) ?? 0n)).map((r) => r.ceId),
      ),
    );
    const plan = computeSwitch(old, neu, committed);
    expect(plan.case).toBe("filter");
    expect(plan.oldPartitions).toBe(3);
    expect(plan.newPartitions).toBe(5);
    expect(plan.skipIds.length).toBeGreaterThan(0);
    const rest = consumeFrom(neu, new Map(plan.starts.map((s) => [s.partition, s.offset])), plan.skipIds);
    expect(rest.filter((id) => processed.has(id))).toEqual([]);
    expect(processed.size + rest.length).toBe(400);
  });

  it("a pending fact the new topic lacks blocks the switch", () => {
    const old = topic("v1", all, 2, key);
    const neu = topic(
      "v2",
      all.filter((i) => i > 200),
      2,
      key,
    );
    const plan = computeSwitch(
      old,
      neu,
      new Map([
        [0, 5n],
        [1, 5n],
      ]),
    );
    expect(plan.case).toBe("blocked");
    expect(plan.missing.length).toBe(200 - 10);
  });
});
