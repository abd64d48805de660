// One writer per embedded (SQLite) state: a second `run` refuses at once naming the holder and the state file,
// the output stays exactly what one run writes, and a holder killed with SIGKILL blocks nobody.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { acquireStateLock, StateLockedError } from "../../src/state/writer-lock.js";
import {
  appendInserts,
  exited,
  migrationProject,
  runWorker,
  spawnWorker,
  V1,
  type Project,
} from "../migrate/harness.js";

const HOLDER = join(import.meta.dirname, "lock-holder.ts");

const opened: StateStore[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const s of opened.splice(0)) await s.close();
});

async function store(dir: string): Promise<StateStore> {
  const s = await openStateStore("sqlite:state.sqlite", dir);
  opened.push(s);
  return s;
}

/** A child process holding the lock on `<dir>/state.sqlite`; resolves once it holds it. */
async function holder(dir: string, command: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", HOLDER, "sqlite:state.sqlite", dir, "exclusive", command],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  await new Promise<void>((done, fail) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("locked")) done();
    });
    child.once("exit", (code) => fail(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}

const outFile = (p: Project) => join(p.dir, ".changecast", "out", `${V1}.jsonl`);

async function waitForOutput(p: Project, worker: ChildProcess): Promise<void> {
  for (;;) {
    let size = 0;
    try {
      size = statSync(outFile(p)).size;
    } catch {
      size = 0;
    }
    if (size > 0) return;
    if (worker.exitCode !== null) throw new Error("the worker finished before the test could race it");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("state writer lock on SQLite", () => {
  it("refuses a second holder in the same process, naming the holder and the file; free again after release", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-lock-"));
    const a = await store(dir);
    const b = await store(dir);
    const lock = await acquireStateLock(a, { mode: "shared", command: "run" });
    expect(lock.mode).toBe("exclusive");
    const refused = await acquireStateLock(b, { mode: "shared", command: "run" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StateLockedError);
    const message = (refused as Error).message;
    expect(message).toContain(join(dir, "state.sqlite"));
    expect(message).toContain(`\`run\` (pid ${process.pid} on ${hostname()}, since `);
    await lock.release();
    const again = await acquireStateLock(b, { mode: "exclusive", command: "migrate backfill" });
    await again.release();
  });

  it("a holder killed with SIGKILL releases the lock; the refusal before named it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-lock-"));
    const child = await holder(dir, "migrate backfill");
    const s = await store(dir);
    const refused = await acquireStateLock(s, { mode: "exclusive", command: "run" }).catch((e: unknown) => e);
    expect((refused as Error).message).toContain(`\`migrate backfill\` (pid ${child.pid} on ${hostname()}`);
    child.kill("SIGKILL");
    await exited(child);
    const lock = await acquireStateLock(s, { mode: "exclusive", command: "run" });
    await lock.release();
  });

  it("a damaged lock file is an error naming it and what to do", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-lock-"));
    writeFileSync(join(dir, "state.sqlite.lock"), "not a database ".repeat(100));
    const refused = await acquireStateLock(await store(dir), { mode: "exclusive", command: "run" }).catch(
      (e: unknown) => e as Error,
    );
    expect((refused as Error).message).toBe(
      `state lock file ${join(dir, "state.sqlite.lock")} is damaged (file is not a database); it holds no data: delete it and try again`,
    );
  });

  it("sqlite::memory: is private to its process: no lock", async () => {
    const a = await openStateStore("sqlite::memory:");
    opened.push(a);
    const l1 = await acquireStateLock(a, { mode: "exclusive", command: "replay" });
    const l2 = await acquireStateLock(a, { mode: "exclusive", command: "replay" });
    await l1.release();
    await l2.release();
  });
});

describe("two `changecast run` on one embedded state", () => {
  it("the second refuses at once (exit non-zero, holder and path named); the output is what one run writes", async () => {
    const raced = migrationProject();
    appendInserts(raced, 1, 20_000);
    const alone = migrationProject();
    appendInserts(alone, 1, 20_000);

    const first = spawnWorker(raced, "--batch-size", "2");
    children.push(first);
    await waitForOutput(raced, first);
    const started = Date.now();
    const second = runWorker(raced);
    expect(first.exitCode, "the first run was still running when the second was refused").toBe(null);
    expect(second.code).not.toBe(0);
    expect(second.err).toContain(join(raced.dir, ".changecast", "state.sqlite"));
    expect(second.err).toContain(`is in use by \`run\` (pid ${first.pid} on ${hostname()}, since `);
    // at once: no waiting on the holder (process start-up included)
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await exited(first)).toBe(0);

    expect(runWorker(alone).code).toBe(0);
    expect(readFileSync(outFile(raced)).equals(readFileSync(outFile(alone)))).toBe(true);
    expect(readFileSync(outFile(raced), "utf8").split("\n").filter(Boolean)).toHaveLength(20_000);
  }, 180_000);

  it("after a run killed with SIGKILL, the next run proceeds and completes the output exactly once", async () => {
    const killed = migrationProject();
    appendInserts(killed, 1, 20_000);
    const alone = migrationProject();
    appendInserts(alone, 1, 20_000);

    const first = spawnWorker(killed, "--batch-size", "2");
    children.push(first);
    await waitForOutput(killed, first);
    first.kill("SIGKILL");
    await exited(first);
    const next = runWorker(killed);
    expect(next.code, next.err).toBe(0);

    expect(runWorker(alone).code).toBe(0);
    expect(readFileSync(outFile(killed)).equals(readFileSync(outFile(alone)))).toBe(true);
  }, 180_000);
});
