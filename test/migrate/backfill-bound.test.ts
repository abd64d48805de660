// Embedded backfill and the worker take turns on the new topic: changes the worker has not processed yet are
// left to it (it publishes both majors for them), or the new topic would carry those facts twice.
import { describe, expect, it } from "vitest";
import { appendInserts, migrate, migrationProject, runWorker, topicRecords, V1, V2 } from "./harness.js";

describe("migrate backfill (embedded) and the worker", () => {
  it("leaves source changes the worker has not processed to it: each fact once on the new topic", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 30);
    expect(runWorker(p).code).toBe(0);
    expect((await migrate(p, "start")).code).toBe(0);
    // new changes arrive after the worker's last run; the backfill runs before the worker sees them
    appendInserts(p, 31, 20);
    const backfill = await migrate(p, "backfill");
    expect(backfill.code, backfill.err).toBe(0);
    expect(backfill.out).toContain("30 facts published");
    expect(backfill.out).toContain("20 source records the worker has not processed yet are left to it");
    expect(runWorker(p).code).toBe(0);

    const ids = (await topicRecords(p, V2)).map((r) => r.headers.ce_id);
    expect(ids.length - new Set(ids).size).toBe(0);
    expect(new Set(ids).size).toBe(50);
    expect((await topicRecords(p, V1)).length).toBe(50);
    const ready = await migrate(p, "cutover");
    expect(ready.code, ready.out).toBe(0);
  });
});
