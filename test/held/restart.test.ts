// Held changes across a crash (SQLite state store, two processes one after the other): a batch whose state was
// written but whose offsets were not committed is delivered again — its releases and aggregates come again with
// the same ce_id, a redelivered parked record is not parked twice, and nothing is lost.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCaptureLine } from "../../src/decode/kcat.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { openPipeline, type OpenPipeline } from "../../src/cli/pipeline.js";
import { heldRecords } from "../../src/worker/held-changes.js";
import { HELD_TABLE } from "../../src/state/migrations/held.js";
import { crmProject, line, order, person, phone, txLine } from "./support.js";

function records(lines: string[]): SourceRecord[] {
  return lines.map((l) => {
    const parsed = parseCaptureLine(l);
    if (parsed.kind !== "record") throw new Error("not a record");
    return parsed.record;
  });
}

interface Published {
  topic: string;
  key: string;
  ceId: string;
  partial?: string;
  lines?: number;
}

/** One batch as the worker runs it; `commit` false: the process dies after the state write (kill -9). */
async function batch(p: OpenPipeline, lines: string[]): Promise<Published[]> {
  const rs = records(lines);
  await p.processor.prepare(rs);
  const out: Published[] = [];
  for (const r of rs) {
    const outcome = p.processor.process(r);
    const published =
      outcome.kind === "events" ? outcome.records : outcome.kind === "dead-letter" ? [outcome.record] : [];
    for (const h of p.processor.takeHeldOutcomes()) published.push(...heldRecords(h));
    for (const { view } of published)
      out.push({
        topic: view.topic,
        key: String(view.key),
        ceId: view.headers.ce_id ?? "",
        ...(view.headers.changecast_partial ? { partial: view.headers.changecast_partial } : {}),
        ...(view.topic === "order-events"
          ? { lines: ((view.value as { lines?: unknown[] }).lines ?? []).length }
          : {}),
      });
  }
  await p.processor.beforeCommit(rs);
  return out;
}

async function open(dir: string): Promise<OpenPipeline> {
  return openPipeline(join(dir, "changecast.yaml"), { stateUrl: `sqlite:${join(dir, "state.sqlite")}` });
}

async function heldRows(p: OpenPipeline): Promise<number> {
  const rows: { n: number | string }[] = await p.store.knex(HELD_TABLE).count({ n: "*" });
  return Number(rows[0]?.n ?? 0);
}

describe("held changes across a crash", () => {
  it("a release whose batch was not committed is made again, with the same ce_id; then forgotten", async () => {
    const dir = crmProject();
    const first = await open(dir);
    expect(await batch(first, [phone(1, 10, 100)])).toEqual([]);
    const released = await batch(first, [person(10, "Ada", 200)]);
    expect(released.map((r) => `${r.topic}:${r.key}`)).toEqual(["persons:10", "phones:1"]);
    await first.close(); // killed before the commit of the person's batch

    const second = await open(dir);
    const again = await batch(second, [person(10, "Ada", 200)]);
    expect(again.map((r) => `${r.topic}:${r.key}`)).toEqual(["persons:10", "phones:1"]);
    expect(again[1]?.ceId).toBe(released[1]?.ceId);
    // a later batch of the person's partition: its offset 200 is committed, the release is final
    expect(await batch(second, [person(11, "Bob", 201)])).toHaveLength(1);
    expect(await heldRows(second)).toBe(0);
    await second.close();
  });

  it("a parked record delivered again is parked once, and released once", async () => {
    const dir = crmProject();
    const first = await open(dir);
    await batch(first, [phone(1, 10, 100), phone(1, 10, 101, "u")]);
    await first.close(); // the park was written, the offsets not committed

    const second = await open(dir);
    expect(await batch(second, [phone(1, 10, 100), phone(1, 10, 101, "u")])).toEqual([]);
    expect(await heldRows(second)).toBe(2);
    const out = await batch(second, [person(10, "Ada", 200)]);
    expect(out.map((r) => `${r.topic}:${r.key}`)).toEqual(["persons:10", "phones:1", "phones:1"]);
    await second.close();
  });

  it("embedded restart keeps what is parked for the next run", async () => {
    const dir = crmProject();
    const first = await open(dir);
    await batch(first, [phone(3, 30, 100)]);
    await batch(first, [person(99, "X", 300)]);
    await first.close();
    const second = await open(dir);
    const out = await batch(second, [person(30, "Cy", 301)]);
    expect(out.map((r) => `${r.topic}:${r.key}`)).toEqual(["persons:30", "phones:3"]);
    await second.close();
  });

  it("an aggregate completed in a batch that was not committed is published again with the same ce_id", async () => {
    const dir = crmProject();
    const first = await open(dir);
    await batch(first, [order(1, 900, 11), line(1, 1, 900, 12)]);
    const end = txLine(900, 13, 2_000_000, { "inventory.orders": 1, "inventory.order_lines": 1 }, 5);
    const placed = await batch(first, [end]);
    expect(placed.map((r) => `${r.topic}:${r.key}`)).toEqual(["order-events:1"]);
    await first.close();

    const second = await open(dir);
    const again = await batch(second, [end]);
    expect(again).toEqual(placed);
    // the line delivered again later (its batch was not committed either): the transaction is done, no partial
    expect(await batch(second, [line(1, 1, 900, 12)])).toEqual([]);
    expect(second.processor.takeHeldOutcomes()).toEqual([]);
    await second.close();
  });
});

describe("a huge transaction", () => {
  it("is spilled to the state store past 10 000 changes and evaluated whole before the next batch", async () => {
    const dir = crmProject();
    const p = await open(dir);
    const n = 10_050;
    const lines = [order(1, 950, 1)];
    for (let i = 1; i <= n; i++) lines.push(line(i, 1, 950, 1 + i));
    lines.push(txLine(950, n + 2, 2_000_000, { "inventory.orders": 1, "inventory.order_lines": n }, n + 2));
    expect(await batch(p, lines)).toEqual([]); // complete, but its spilled changes are loaded first
    const out = await batch(p, [person(1, "A", 20_000)]);
    expect(out.map((r) => r.topic)).toEqual(["persons", "order-events"]);
    expect(out[1]?.lines).toBe(n); // every line, the spilled ones loaded back
    expect(out[1]?.partial).toBeUndefined();
    await p.close();
  }, 120_000);
});
