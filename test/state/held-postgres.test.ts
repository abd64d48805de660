// Held changes on a Postgres state store (what workers of a consumer group share): parked changes and releases
// survive a crash before the commit as on SQLite, and a second worker sharing the store releases a change parked
// by the first when the parent comes through it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openPipeline, type OpenPipeline } from "../../src/cli/pipeline.js";
import { parseCaptureLine } from "../../src/decode/kcat.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { heldRecords } from "../../src/worker/held-changes.js";
import { HELD_TABLE } from "../../src/state/migrations/held.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import { crmProject, line, order, person, phone, txLine } from "../held/support.js";

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

function records(lines: string[]): SourceRecord[] {
  return lines.map((l) => {
    const parsed = parseCaptureLine(l);
    if (parsed.kind !== "record") throw new Error("not a record");
    return parsed.record;
  });
}

async function batch(p: OpenPipeline, lines: string[]): Promise<string[]> {
  const rs = records(lines);
  await p.processor.prepare(rs);
  const out: string[] = [];
  const take = () => {
    for (const h of p.processor.takeHeldOutcomes())
      for (const { view } of heldRecords(h)) out.push(`${view.topic}:${view.key}:${view.headers.ce_id}`);
  };
  take();
  for (const r of rs) {
    const outcome = p.processor.process(r);
    if (outcome.kind === "events")
      for (const { view } of outcome.records) out.push(`${view.topic}:${view.key}:${view.headers.ce_id}`);
    take();
  }
  await p.processor.beforeCommit(rs);
  return out;
}

const open = (dir: string) => openPipeline(join(dir, "changecast.yaml"), { stateUrl: pg.url });
const topicKeys = (out: string[]) => out.map((o) => o.split(":").slice(0, 2).join(":"));

describe("held changes on Postgres", () => {
  it("a release made again after a crash has the same ce_id; an aggregate too", async () => {
    const dir = crmProject({ pipeline: "held-pg-1" });
    const first = await open(dir);
    expect(await batch(first, [phone(1, 10, 100)])).toEqual([]);
    const released = await batch(first, [person(10, "Ada", 200)]);
    await batch(first, [order(1, 900, 11), line(1, 1, 900, 12)]);
    const end = txLine(900, 13, 2_000_000, { "inventory.orders": 1, "inventory.order_lines": 1 }, 5);
    const placed = await batch(first, [end]);
    await first.close();

    const second = await open(dir);
    expect(await batch(second, [person(10, "Ada", 200)])).toEqual(released);
    expect(await batch(second, [end])).toEqual(placed);
    expect(topicKeys(placed)).toEqual(["order-events:1"]);
    await second.close();
  });

  it("two workers sharing the store: the parent's worker releases a change the other parked", async () => {
    const dir = crmProject({
      pipeline: "held-pg-2",
      top: ["kafka:", "  brokers: 127.0.0.1:1"], // a consumer group: the store is shared
    });
    const a = await open(dir);
    const b = await open(dir);
    expect(await batch(a, [phone(1, 10, 100)])).toEqual([]);
    // b learns of the parked phone before its batch, and releases it when the person comes through it
    expect(topicKeys(await batch(b, [person(10, "Ada", 200)]))).toEqual(["persons:10", "phones:1"]);
    // a sees it released: a later batch of a does not publish it again
    expect(await batch(a, [phone(2, 10, 101)])).toHaveLength(1);
    const rows: { n: string | number }[] = await a.store
      .knex(HELD_TABLE)
      .where({ pipeline: "held-pg-2" })
      .count({ n: "*" });
    expect(Number(rows[0]?.n)).toBe(1); // the release mark, until the person's offset is committed
    await a.close();
    await b.close();
  });
});
