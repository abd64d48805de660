// The dual-publish migrator in embedded mode, as a user drives it: a reference consumer group processes major 1,
// switches mid-stream and continues on major 2 — every fact processed once, none skipped.
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSwitchFilter } from "../../src/migrate/filter.js";
import {
  accounting,
  appendInserts,
  EVENT,
  exited,
  migrate,
  migrationProject,
  ReferenceConsumer,
  runWorker,
  spawnWorker,
  topicRecords,
  V1,
  V2,
  withStore,
} from "./harness.js";

describe("migrate (embedded)", () => {
  it("under load: a consumer switches from v1 to v2 mid-stream with zero duplicates and zero gaps", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 300);
    expect(runWorker(p).code).toBe(0);
    const consumer = new ReferenceConsumer(p, "billing");
    expect((await migrate(p, "register-consumer", { group: "billing" })).code).toBe(0);
    await consumer.poll(V1, 250);

    const plan = await migrate(p, "plan");
    expect(plan.out).toContain("INCOMPATIBLE");
    expect(plan.out).toContain("/fields/customerId");
    expect(plan.out).toContain(`topic ${V2}`);
    expect(plan.out).toContain("billing");
    expect((await migrate(p, "start")).code).toBe(0);
    expect((await migrate(p, "start")).out).toContain("already started");

    // load: 2000 more changes published by a worker running in the background while the group switches
    appendInserts(p, 301, 2000);
    const worker = spawnWorker(p, "--batch-size", "25");
    // keep consuming v1 until the running worker has dual-published past the group's position
    while (consumer.processed.length < 400)
      if ((await consumer.poll(V1, 20)) === 0) await new Promise((r) => setTimeout(r, 20));
    expect(worker.exitCode).toBe(null);

    const switched = await migrate(p, "switch", { group: "billing" });
    expect(switched.code, switched.out).toBe(0);
    expect(switched.out).toContain("case: exact");
    // re-running the switch does not move the group
    expect((await migrate(p, "switch", { group: "billing" })).out).toContain("already switched");
    while ((await consumer.poll(V2, 50)) > 0);
    expect(await exited(worker)).toBe(0);
    while ((await consumer.poll(V2, 50)) > 0);

    expect((await migrate(p, "status")).out).toMatch(/billing\s+\d+\s+\d+\s+2000\s+0\s+yes \(exact\)/);
    const notReady = await migrate(p, "cutover");
    expect(notReady.code).toBe(1);
    expect(notReady.out).toContain(
      `history: 300 of 2300 io.example.customer.CustomerRegistered facts on ${V1} are not on ${V2}`,
    );
    expect((await migrate(p, "cutover", { skipBackfill: true })).code).toBe(0);
    expect((await migrate(p, "finish")).code).toBe(0);
    expect((await migrate(p, "finish")).out).toContain("already finished");

    // after finish only major 2 is published; v1 stays as it was
    appendInserts(p, 2301, 200);
    expect(runWorker(p).code).toBe(0);
    while ((await consumer.poll(V2, 50)) > 0);
    expect((await topicRecords(p, V1)).length).toBe(2300);
    expect((await topicRecords(p, V2)).length).toBe(2200);

    const result = accounting(consumer.processed, 2500);
    expect(result.duplicates).toEqual([]);
    expect(result.missing).toEqual([]);
    expect(result.extra).toEqual([]);
    expect(consumer.processed.length).toBe(2500);
    // both majors carry the same ce_id and position for the same change
    const v1 = new Map(
      (await topicRecords(p, V1)).map((r) => [r.headers.ce_id, r.headers.changecast_position]),
    );
    for (const r of await topicRecords(p, V2))
      if (v1.has(r.headers.ce_id)) expect(v1.get(r.headers.ce_id)).toBe(r.headers.changecast_position);
  }, 120_000);

  it("abort stops the new major and leaves the old one untouched", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 50);
    runWorker(p);
    await migrate(p, "start");
    appendInserts(p, 51, 50);
    runWorker(p);
    expect((await topicRecords(p, V2)).length).toBe(50);
    const aborted = await migrate(p, "abort");
    expect(aborted.code).toBe(0);
    expect(aborted.out).toContain("aborted");
    expect((await migrate(p, "abort")).out).toContain("nothing to do");
    appendInserts(p, 101, 50);
    expect(runWorker(p).code).toBe(0);
    expect((await topicRecords(p, V2)).length).toBe(50);
    const v1 = await topicRecords(p, V1);
    expect(v1.length).toBe(150);
    expect(new Set(v1.map((r) => r.headers.ce_id)).size).toBe(150);
    expect((await migrate(p, "switch", { group: "late" })).code).toBe(1);
    expect((await migrate(p, "status")).out).toContain("aborted");
  }, 60_000);

  it("a worker killed (kill -9) mid-migration resumes: each major has each fact exactly once", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 100);
    runWorker(p);
    await migrate(p, "start");
    appendInserts(p, 101, 3000);
    const worker = spawnWorker(p, "--batch-size", "10");
    const v2File = join(p.dir, ".changecast", "out", `${V2}.jsonl`);
    // wait until the worker is mid-way (the new topic holds some records), then kill it hard
    for (;;) {
      let size = 0;
      try {
        size = statSync(v2File).size;
      } catch {
        size = 0;
      }
      if (size > 50_000 || worker.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    worker.kill("SIGKILL");
    await exited(worker);
    const mid = (await topicRecords(p, V2)).length;
    expect(runWorker(p).code).toBe(0);

    const v1 = await topicRecords(p, V1);
    const v2 = await topicRecords(p, V2);
    expect(v1.length).toBe(3100);
    expect(new Set(v1.map((r) => r.headers.ce_id)).size).toBe(3100);
    expect(v2.length).toBe(3000);
    expect(new Set(v2.map((r) => r.headers.ce_id)).size).toBe(3000);
    const v1Ids = new Set(v1.map((r) => r.headers.ce_id));
    expect(v2.every((r) => v1Ids.has(r.headers.ce_id))).toBe(true);
    expect(v2.map((r) => Number(r.value && (r.value as { customerId: string }).customerId))).toEqual(
      Array.from({ length: 3000 }, (_, i) => i + 101),
    );
    expect(mid).toBeLessThan(3000);
  }, 120_000);

  it("backfill re-derives history once; a consumer behind the start switches with the filter", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 300);
    runWorker(p);
    const consumer = new ReferenceConsumer(p, "late");
    await migrate(p, "register-consumer", { group: "late" });
    await consumer.poll(V1, 100);
    await migrate(p, "start");
    appendInserts(p, 301, 200);
    runWorker(p);

    const blocked = await migrate(p, "switch", { group: "late" });
    expect(blocked.code).toBe(1);
    expect(blocked.out).toContain(
      `case: blocked — 200 io.example.customer.CustomerRegistered facts the group has not processed are on ${V1} but not on ${V2}`,
    );

    const first = await migrate(p, "backfill");
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/backfill: 500\/500 source records \(100%\), 300 published, 200 already on/);
    expect(first.out).toMatch(/ETA \d+ s/);
    const again = await migrate(p, "backfill");
    expect(again.out).toContain("0 facts published, 500 already present");
    const v2 = await topicRecords(p, V2);
    expect(v2.length).toBe(500);
    expect(new Set(v2.map((r) => r.headers.ce_id))).toEqual(
      new Set((await topicRecords(p, V1)).map((r) => r.headers.ce_id)),
    );

    const switched = await migrate(p, "switch", { group: "late" });
    expect(switched.code, switched.out).toBe(0);
    expect(switched.out).toContain("case: filter");
    consumer.filter = await withStore(p, (store) => loadSwitchFilter(store.knex, "inventory", EVENT, "late"));
    expect(consumer.filter.remaining).toBe(100);
    while ((await consumer.poll(V2, 64)) > 0);
    expect(consumer.filter.remaining).toBe(0);
    const result = accounting(consumer.processed, 500);
    expect(result).toEqual({ duplicates: [], missing: [], extra: [] });
    expect(consumer.processed.length).toBe(500);

    // backfill after a switch would hand the switched group old facts again: refused
    expect((await migrate(p, "backfill")).code).toBe(1);
    const ready = await migrate(p, "cutover");
    expect(ready.code, ready.out).toBe(0);
    expect(ready.out).toContain(
      `history: all 500 io.example.customer.CustomerRegistered facts on ${V1} are on ${V2}`,
    );
    expect(ready.out).toContain("backfill done");
    expect((await migrate(p, "finish")).code).toBe(0);
  }, 60_000);
});
