// The state writer lock on a real Postgres: workers share it, `migrate backfill` needs it alone; the refusal
// names the holders and the state without its password; a killed holder's session releases it.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { acquireStateLock, StateLockedError, type StateLockOptions } from "../../src/state/writer-lock.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import { appendInserts, exited, migrationProject, runWorker, spawnWorker, V1 } from "../migrate/harness.js";

const HOLDER = join(import.meta.dirname, "lock-holder.ts");
const RUN: StateLockOptions = { mode: "shared", command: "run", scope: "inventory" };
const BACKFILL: StateLockOptions = { mode: "exclusive", command: "migrate backfill", scope: "inventory" };

// a role whose password holds URL-special characters: it must never show in a message
const PASSWORD = "S3cr/t+p#ss@x";
let server: TestPostgres;
let url: string;
const opened: StateStore[] = [];
const children: ChildProcess[] = [];
beforeAll(async () => {
  server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE changecast_lock LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query(`GRANT ALL ON SCHEMA public TO changecast_lock`);
  } finally {
    await admin.end();
  }
  url = `postgres://changecast_lock:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}/${server.database}`;
}, 200_000);
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const s of opened.splice(0)) await s.close();
});

async function store(): Promise<StateStore> {
  const s = await openStateStore(url);
  opened.push(s);
  return s;
}

const refusal = (p: Promise<unknown>) => p.then(() => null).catch((e: unknown) => e as Error);

describe("state writer lock on Postgres", () => {
  it("workers share it; a backfill is refused while any worker holds it, and the other way round", async () => {
    const [w1, w2, b] = [await store(), await store(), await store()];
    const l1 = await acquireStateLock(w1, RUN);
    const l2 = await acquireStateLock(w2, RUN);
    expect(l1.mode).toBe("shared");

    const refused = await refusal(acquireStateLock(b, BACKFILL));
    expect(refused).toBeInstanceOf(StateLockedError);
    const message = refused!.message;
    expect((refused as StateLockedError).holders).toHaveLength(2);
    expect(message).toContain(`\`run\` (pid ${process.pid} on ${hostname()}, since `);
    expect(message).toContain(
      `state postgres://changecast_lock:***@127.0.0.1:${server.port}/${server.database} (pipeline inventory)`,
    );
    expect(message).not.toContain(encodeURIComponent(PASSWORD));
    expect(message).not.toContain("S3cr");

    // another pipeline in the same database is not affected
    const other = await acquireStateLock(b, { ...BACKFILL, scope: "billing" });
    await other.release();

    await l1.release();
    expect(await refusal(acquireStateLock(b, BACKFILL))).toBeInstanceOf(StateLockedError);
    await l2.release();
    const backfill = await acquireStateLock(b, BACKFILL);
    const blocked = await refusal(acquireStateLock(w1, RUN));
    expect(blocked?.message).toContain(`\`migrate backfill\` (pid ${process.pid}`);
    await backfill.release();
    await (await acquireStateLock(w1, RUN)).release();
  });

  it("a holder killed with SIGKILL releases the lock with its session", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", HOLDER, url, ".", "exclusive", "migrate backfill", "inventory"],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push(child);
    await new Promise<void>((done, fail) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && done());
      child.once("exit", (code) => fail(new Error(`lock holder exited with ${code}`)));
    });
    const s = await store();
    const refused = await refusal(acquireStateLock(s, RUN));
    expect(refused?.message).toContain(`\`migrate backfill\` (pid ${child.pid} on ${hostname()}`);
    child.kill("SIGKILL");
    // the server notices the closed socket at once; allow it a moment
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lock = await acquireStateLock(s, RUN).catch((e: unknown) => {
        if (!(e instanceof StateLockedError) || Date.now() > deadline) throw e;
        return null;
      });
      if (lock) {
        await lock.release();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  it("signals `lost` when the lock's session is terminated", async () => {
    const s = await store();
    const lock = await acquireStateLock(s, RUN);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'changecast run'`,
      );
    } finally {
      await admin.end();
    }
    await new Promise<void>((done) => {
      if (lock.lost.aborted) done();
      else lock.lost.addEventListener("abort", () => done());
    });
    expect((lock.lost.reason as Error).message).toMatch(/^state lock lost/);
    await lock.release();
  });

  it("an embedded run on a Postgres state runs alone: a second one refuses, naming the first", async () => {
    const p = migrationProject();
    const text = readFileSync(p.config, "utf8");
    writeFileSync(p.config, text.replace("state: sqlite:.changecast/state.sqlite", `state: ${url}`));
    appendInserts(p, 1, 20_000);
    const out = join(p.dir, ".changecast", "out", `${V1}.jsonl`);
    const first = spawnWorker(p, "--batch-size", "2");
    children.push(first);
    while (!(statSync(out, { throwIfNoEntry: false })?.size ?? 0)) {
      if (first.exitCode !== null) throw new Error("the first run finished before the test could race it");
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = runWorker(p);
    expect(second.code).not.toBe(0);
    expect(second.err).toContain(`is in use by \`run\` (pid ${first.pid} on ${hostname()}, since `);
    expect(second.err).toContain("changecast_lock:***@");
    expect(second.err).not.toContain("S3cr");
    expect(await exited(first)).toBe(0);
    expect(readFileSync(out, "utf8").split("\n").filter(Boolean)).toHaveLength(20_000);
  }, 180_000);

  it("a run whose lock session is terminated stops after the current batch and exits non-zero", async () => {
    const p = migrationProject();
    const text = readFileSync(p.config, "utf8");
    // its own pipeline: the state (offsets) of the other tests' runs in this database is not its own
    writeFileSync(
      p.config,
      text
        .replace("state: sqlite:.changecast/state.sqlite", `state: ${url}`)
        .replace("pipeline: inventory", "pipeline: lost-lock"),
    );
    appendInserts(p, 1, 20_000);
    const out = join(p.dir, ".changecast", "out", `${V1}.jsonl`);
    const worker = spawnWorker(p, "--batch-size", "2");
    children.push(worker);
    let stderr = "";
    worker.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    while (!(statSync(out, { throwIfNoEntry: false })?.size ?? 0)) {
      if (worker.exitCode !== null) throw new Error("the run finished before the test could cut its lock");
      await new Promise((r) => setTimeout(r, 20));
    }
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'changecast run'`,
      );
    } finally {
      await admin.end();
    }
    expect(await exited(worker)).toBe(2);
    expect(stderr).toContain("state lock lost");
    // what it published before stopping is committed: the next run completes the output exactly once
    expect(runWorker(p).code).toBe(0);
    const lines = readFileSync(out, "utf8").split("\n").filter(Boolean);
    expect(lines).toHaveLength(20_000);
  }, 180_000);
});
