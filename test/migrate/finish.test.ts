// `migrate finish` after a successful cutover: a consumer group registered since then has not switched, and
// finishing would leave it reading an old major that is no longer published.
import { describe, expect, it } from "vitest";
import { appendInserts, migrate, migrationProject, runWorker } from "./harness.js";

describe("migrate finish", () => {
  it("refuses while a group registered after the cutover has not switched (--force finishes anyway)", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 20);
    expect(runWorker(p).code).toBe(0);
    expect((await migrate(p, "start")).code).toBe(0);
    expect((await migrate(p, "backfill")).code).toBe(0);
    const ready = await migrate(p, "cutover");
    expect(ready.code, ready.out).toBe(0);

    expect((await migrate(p, "register-consumer", { group: "late" })).code).toBe(0);
    const refused = await migrate(p, "finish");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("group late");
    expect((await migrate(p, "status")).out).toMatch(/: cutover \(since/);

    const switched = await migrate(p, "switch", { group: "late" });
    expect(switched.code, switched.out).toBe(0);
    const finished = await migrate(p, "finish");
    expect(finished.code, finished.err).toBe(0);
    expect(finished.out).toContain("finished");
  });

  it("--force finishes with an unswitched group", async () => {
    const p = migrationProject();
    appendInserts(p, 1, 5);
    expect(runWorker(p).code).toBe(0);
    expect((await migrate(p, "start")).code).toBe(0);
    expect((await migrate(p, "backfill")).code).toBe(0);
    expect((await migrate(p, "cutover")).code).toBe(0);
    expect((await migrate(p, "register-consumer", { group: "late" })).code).toBe(0);
    expect((await migrate(p, "finish", { force: true })).code).toBe(0);
  });
});
