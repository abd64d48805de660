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

  describe("an old topic shared with other event types (by ce_type)", () => {
    const REG = "io.example.Registered";
    const OTHER = "io.example.Changed";
    /** Facts 1..n of the event, each third followed by a fact of another type with the same key. */
    function shared(partitions: number): TopicSnapshot {
      const parts = Array.from({ length: partitions }, (_, partition) => ({
        partition,
        records: [] as { offset: bigint; ceId: string; position: string; type: string }[],
        end: 0n,
      }));
      for (const i of all) {
        const p = parts[key(i) % partitions]!;
        p.records.push({ offset: p.end++, ceId: `f${i}`, position: `postgresql:${i}:${i}:0`, type: REG });
        if (i % 3 === 0)
          p.records.push({ offset: p.end++, ceId: `o${i}`, position: `postgresql:${i}:${i}:1`, type: OTHER });
      }
      return { topic: "v1", partitions: parts };
    }
    const typed = (t: TopicSnapshot, type: string): TopicSnapshot => ({
      ...t,
      partitions: t.partitions.map((p) => ({
        ...p,
        records: p.records.map((r) => ({ ...r, type })),
      })),
    });
    const types = { old: REG, new: REG };

    for (const [oldCount, newCount, expected] of [
      [4, 4, "exact"],
      [4, 6, "filter"],
    ] as const) {
      it(`${oldCount} → ${newCount} partitions: only the event's facts count; the group reads the other types on, once`, () => {
        const old = shared(oldCount);
        const neu = typed(
          topic(
            "v2",
            all.filter((i) => i > 100),
            newCount,
            newCount === oldCount ? key : (i) => key(i) * 31 + 1,
          ),
          REG,
        );
        // every partition: 70 records read (facts of both types); facts 1..100 are only on the old topic
        const committed = new Map(old.partitions.map((p) => [p.partition, 70n]));
        const read = old.partitions.flatMap((p) => p.records.filter((r) => r.offset < 70n));
        expect(
          read.filter((r) => r.ceId.startsWith("f") && Number(r.ceId.slice(1)) > 100).length,
        ).toBeGreaterThan(0);
        // counting every record, the other type's records would be missing facts: blocked
        expect(computeSwitch(old, neu, committed).case).toBe("blocked");
        const plan = computeSwitch(old, neu, committed, types);
        expect(plan.case).toBe(expected);
        expect(plan.otherOnOld).toBe(133);
        expect(plan.processed).toBe(read.filter((r) => r.type === REG).length);

        // the group resumes: the old topic from its offsets through the filter, the new one from the starts
        const filter = createSwitchFilter(plan.skipIds, { oldTopic: "v1", oldType: REG });
        const seen = read.map((r) => r.ceId);
        for (const p of old.partitions)
          for (const r of p.records)
            if (r.offset >= 70n && filter.accept({ ce_id: r.ceId, ce_type: r.type }, "v1")) seen.push(r.ceId);
        const starts = new Map(plan.starts.map((s) => [s.partition, s.offset]));
        for (const p of neu.partitions)
          for (const r of p.records)
            if (
              r.offset >= (starts.get(p.partition) ?? 0n) &&
              filter.accept({ ce_id: Buffer.from(r.ceId), ce_type: REG }, "v2")
            )
              seen.push(r.ceId);
        expect(seen.length).toBe(400 + 133);
        expect(new Set(seen).size).toBe(400 + 133);
        expect(filter.remaining).toBe(0);
      });
    }

    it("a group that read nothing: blocked by the history alone, exact once it is on the new topic", () => {
      const old = shared(4);
      const live = topic(
        "v2",
        all.filter((i) => i > 100),
        4,
        key,
      );
      const blocked = computeSwitch(old, typed(live, REG), new Map(), types);
      expect(blocked.case).toBe("blocked");
      expect(blocked.missing.map((r) => r.ceId).sort()).toEqual(
        all
          .filter((i) => i <= 100)
          .map((i) => `f${i}`)
          .sort(),
      );
      // backfilled: the history after the live tail
      const backfilled = topic("v2", [...all.filter((i) => i > 100), ...all.filter((i) => i <= 100)], 4, key);
      const plan = computeSwitch(old, typed(backfilled, REG), new Map(), types);
      expect(plan.case).toBe("exact");
      expect(plan.starts.every((s) => s.offset === 0n)).toBe(true);
    });
  });
});
