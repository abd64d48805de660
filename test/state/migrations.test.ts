// Versioned state-store migrations: a state written by the previous release (0.1.0, commit 9461f86, whose stages
// created their tables ad hoc) is upgraded in place by the current code — rows kept, new columns and tables
// present, and `run` on the example continues from its offsets; opening again is a no-op; a state written by
// a newer release is refused.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import knexFactory, { type Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MigrationStore } from "../../src/migrate/state.js";
import { STATE_MIGRATIONS } from "../../src/state/migrations/index.js";
import { openStateStore, StateStoreError } from "../../src/state/store.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";

const ROOT = join(import.meta.dirname, "..", "..");
const ALL = STATE_MIGRATIONS.map((m) => m.name);

/**
 * The tables exactly as release 0.1.0 created them: its `ensureTable` calls, copied verbatim from
 * `git show 9461f86:src/state/offsets.ts`, `…:src/schemas/embedded-registry.ts` and `…:src/migrate/state.ts`
 * (frozen here: the current code's migrations must not be what builds the "old" state).
 */
async function createPreviousReleaseTables(knex: Knex): Promise<void> {
  await knex.schema.createTable("source_offsets", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("topic", 255).notNullable();
    t.integer("partition").notNullable();
    t.string("next_offset", 32).notNullable();
    t.primary(["pipeline", "topic", "partition"]);
  });
  await knex.schema.createTable("output_positions", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("file", 1024).notNullable();
    t.bigInteger("length").notNullable();
    t.primary(["pipeline", "file"]);
  });
  await knex.schema.createTable("registry_schemas", (t) => {
    t.increments("id").primary();
    t.string("hash", 64).notNullable().unique();
    t.text("schema").notNullable();
  });
  await knex.schema.createTable("registry_versions", (t) => {
    t.string("subject", 255).notNullable();
    t.integer("version").notNullable();
    t.integer("schema_id").notNullable();
    t.boolean("deleted").notNullable().defaultTo(false);
    t.integer("live_schema_id").nullable();
    t.primary(["subject", "version"]);
    t.unique(["subject", "live_schema_id"]);
    t.index(["schema_id"]);
  });
  await knex.schema.createTable("registry_config", (t) => {
    t.string("subject", 255).primary();
    t.string("compatibility", 32).notNullable();
  });
  await knex.schema.createTable("migrations", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("event", 255).notNullable();
    t.integer("from_major").notNullable();
    t.integer("to_major").notNullable();
    t.string("old_topic", 255).notNullable();
    t.string("new_topic", 255).notNullable();
    t.string("new_subject", 512).notNullable();
    t.string("status", 20).notNullable();
    t.string("backfill", 20).notNullable();
    t.text("backfill_progress").notNullable();
    t.string("started_at", 40).notNullable();
    t.string("updated_at", 40).notNullable();
    t.primary(["pipeline", "event", "to_major"]);
  });
  await knex.schema.createTable("migration_groups", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("event", 255).notNullable();
    t.string("group_id", 255).notNullable();
    t.integer("switched_to").nullable();
    t.string("switched_at", 40).nullable();
    t.string("switch_case", 20).nullable();
    t.text("skip_ids").nullable();
    t.primary(["pipeline", "event", "group_id"]);
  });
  await knex.schema.createTable("consumer_group_offsets", (t) => {
    t.string("group_id", 255).notNullable();
    t.string("topic", 255).notNullable();
    t.integer("partition").notNullable();
    t.string("next_offset", 32).notNullable();
    t.primary(["group_id", "topic", "partition"]);
  });
}

/** the previous release's tables and the columns it knew */
const OLD_COLUMNS: Record<string, string[]> = {
  source_offsets: ["pipeline", "topic", "partition", "next_offset"],
  output_positions: ["pipeline", "file", "length"],
  registry_schemas: ["id", "hash", "schema"],
  registry_versions: ["subject", "version", "schema_id", "deleted", "live_schema_id"],
  registry_config: ["subject", "compatibility"],
  consumer_group_offsets: ["group_id", "topic", "partition", "next_offset"],
};

// an aborted migration: kept by the upgrade, and of no consequence to the example's transforms
const OLD_MIGRATION_ROW = {
  pipeline: "inventory",
  event: "CustomerRegistered",
  from_major: 1,
  to_major: 2,
  old_topic: "inventory.customer-registered.v1",
  new_topic: "inventory.customer-registered.v2",
  new_subject: "inventory.customer-registered.v2-value",
  status: "aborted",
  backfill: "none",
  backfill_progress: "",
  started_at: "2026-11-20T10:00:00.000Z",
  updated_at: "2026-11-20T10:05:00.000Z",
};

function copyExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-upgrade-"));
  for (const p of ["changecast.yaml", "transforms", "schemas", "captures"])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

function run(dir: string, stateUrl: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src", "cli", "main.ts"), "run", "--config", join(dir, "changecast.yaml")],
    {
      encoding: "utf8",
      cwd: ROOT,
      env: { ...process.env, STATE_URL: stateUrl, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "" },
    },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function outputLines(dir: string): string[] {
  const out = join(dir, ".changecast", "out");
  return readdirSync(out).flatMap((f) => readFileSync(join(out, f), "utf8").split("\n").filter(Boolean));
}

function rawKnex(url: string): Knex {
  return url.startsWith("sqlite:")
    ? knexFactory({
        client: "better-sqlite3",
        connection: { filename: url.slice(7) },
        useNullAsDefault: true,
      })
    : knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 1 } });
}

/**
 * A state as the previous release left it after running the example: the example is run into a scratch state
 * (for offsets, output positions and schemas consistent with the output files), then its rows are copied into
 * the previous release's tables at `oldUrl`, plus a migration row of the previous release's shape.
 */
async function previousReleaseState(dir: string, scratchUrl: string, oldUrl: string): Promise<void> {
  const first = run(dir, scratchUrl);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/reconciliation: 5579 records in = \d+ mapped \(1796 events out\)/);
  const scratch = rawKnex(scratchUrl);
  const old = rawKnex(oldUrl);
  try {
    await createPreviousReleaseTables(old);
    for (const [table, columns] of Object.entries(OLD_COLUMNS)) {
      const rows: Record<string, unknown>[] = await scratch(table).select(columns);
      if (rows.length) await old.batchInsert(table, rows, 100);
    }
    if (!oldUrl.startsWith("sqlite:")) {
      // as the previous release's own inserts would have left it
      await old.raw(
        "SELECT setval(pg_get_serial_sequence('registry_schemas', 'id'), max(id)) FROM registry_schemas",
      );
    }
    await old("migrations").insert(OLD_MIGRATION_ROW);
  } finally {
    await scratch.destroy();
    await old.destroy();
  }
}

async function count(knex: Knex, table: string): Promise<number> {
  const [row] = await knex(table).count({ n: "*" });
  return Number(row!.n);
}

/** Opens the previous release's state with the current code, checks it, runs the example on it. */
async function upgradeAndRun(dir: string, url: string): Promise<void> {
  const before = rawKnex(url);
  const counts = new Map<string, number>();
  try {
    expect(await before.schema.hasTable("changecast_migrations")).toBe(false);
    for (const table of Object.keys(OLD_COLUMNS)) counts.set(table, await count(before, table));
  } finally {
    await before.destroy();
  }
  expect(counts.get("source_offsets")).toBe(8);
  expect(counts.get("registry_versions")).toBeGreaterThan(0);

  const store = await openStateStore(url);
  try {
    // rows kept
    for (const [table, n] of counts) expect(await count(store.knex, table), table).toBe(n);
    // the columns and tables added since, and every migration recorded as applied
    expect(await store.knex.schema.hasColumn("migrations", "old_type")).toBe(true);
    expect(await store.knex.schema.hasColumn("migrations", "new_type")).toBe(true);
    expect(await store.knex.schema.hasTable("state_lock_holders")).toBe(true);
    const applied: { name: string }[] = await store
      .knex("changecast_migrations")
      .select("name")
      .orderBy("id");
    expect(applied.map((r) => r.name)).toEqual(ALL);
    const [m] = await (await MigrationStore.open(store.knex, "inventory")).migrations("CustomerRegistered");
    expect(m).toMatchObject({ toMajor: 2, status: "aborted", oldType: "", newType: "" });
  } finally {
    await store.close();
  }

  // continues from its offsets: nothing read again, nothing published twice
  const second = run(dir, url);
  expect(second.code, second.stderr).toBe(0);
  expect(second.stdout).toMatch(/reconciliation: 0 records in/);
  expect(outputLines(dir)).toHaveLength(1796);

  // opening again is a no-op
  const again = await openStateStore(url);
  try {
    const rows: { name: string; batch: number }[] = await again
      .knex("changecast_migrations")
      .select("name", "batch");
    expect(rows.map((r) => r.name).sort()).toEqual([...ALL].sort());
    expect(new Set(rows.map((r) => Number(r.batch)))).toEqual(new Set([1]));
  } finally {
    await again.close();
  }
}

describe("state-store migrations on SQLite", () => {
  it("a state file of the previous release is upgraded in place and `run` continues from its offsets", async () => {
    const dir = copyExample();
    const oldUrl = `sqlite:${join(dir, ".changecast", "state.sqlite")}`;
    await previousReleaseState(dir, `sqlite:${join(dir, "scratch.sqlite")}`, oldUrl);
    await upgradeAndRun(dir, oldUrl);
  });

  it("a new store gets every migration once, also when two open it at the same moment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-migrations-"));
    const stores = await Promise.all([0, 1, 2].map(() => openStateStore("sqlite:state.sqlite", dir)));
    await Promise.all(stores.map((s) => s.close()));
    const store = await openStateStore("sqlite:state.sqlite", dir);
    try {
      const rows: { name: string }[] = await store.knex("changecast_migrations").select("name").orderBy("id");
      expect(rows.map((r) => r.name)).toEqual(ALL);
      expect(await count(store.knex, "changecast_migrations_lock")).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("a state written by a newer release is refused, naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-migrations-"));
    const file = join(dir, "state.sqlite");
    const store = await openStateStore(`sqlite:${file}`);
    await store.knex("changecast_migrations").insert({ name: "9999_from_a_newer_release", batch: 2 });
    await store.close();
    const err = await openStateStore(`sqlite:${file}`).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(StateStoreError);
    expect(err!.message).toContain(`state ${file} was written by a newer changecast`);
    expect(err!.message).toContain("9999_from_a_newer_release");
  });
});

describe("state-store migrations on Postgres", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const database = (name: string) => pg.url.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);

  it("a Postgres state of the previous release is upgraded in place and `run` continues from its offsets", async () => {
    const admin = rawKnex(pg.url);
    try {
      await admin.raw("CREATE DATABASE scratch");
      await admin.raw("CREATE DATABASE previous");
    } finally {
      await admin.destroy();
    }
    const dir = copyExample();
    await previousReleaseState(dir, database("scratch"), database("previous"));
    await upgradeAndRun(dir, database("previous"));
  });

  it("two processes opening a new Postgres state at once apply each migration once", async () => {
    const admin = rawKnex(pg.url);
    try {
      await admin.raw("CREATE DATABASE fresh");
    } finally {
      await admin.destroy();
    }
    const stores = await Promise.all([0, 1, 2].map(() => openStateStore(database("fresh"))));
    try {
      const rows: { name: string }[] = await stores[0]!
        .knex("changecast_migrations")
        .select("name")
        .orderBy("id");
      expect(rows.map((r) => r.name)).toEqual(ALL);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
