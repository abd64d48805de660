// One writer per state store. Two embedded workers on one SQLite file would both append the same records to
// the same output files; a backfill racing the workers of a Postgres state would do the same on Kafka. A
// process that writes takes this lock first and refuses at once when another holds it.
//
// SQLite: the lock is an OS-level file lock. `<state file>.lock` is opened as a SQLite database and kept in an
// open `BEGIN EXCLUSIVE` transaction: SQLite takes an fcntl() lock on it, which the kernel releases when the
// process dies however it dies (kill -9, OOM, power loss of a container), so no stale lock can block a restart
// and no pid-liveness guess (pid reuse, other hosts, containers) is needed. Always exclusive: one process per
// state file. The file lock is also honoured between connections of one process.
//
// Postgres: session-level advisory locks on a dedicated connection — shared for workers (a consumer group of N
// workers shares the state legitimately), exclusive for `migrate backfill`. The server releases them when the
// session ends, including when the process is killed and its TCP connection drops.
//
// Who holds a lock (command, pid, host, since) is written to the table state_lock_holders so that the refusal
// can name it; on Postgres stale rows are ignored by joining pg_locks, on SQLite the row of a dead holder is
// simply overwritten by the next one to get the file lock.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import Database from "better-sqlite3";
import type pg from "pg";
import { redactText } from "../config/redact.js";
import { LOCK_HOLDERS_TABLE as HOLDERS } from "./migrations/writer-lock.js";
import { StateStoreError, StateStoreUnavailableError, type StateStore } from "./store.js";
import { ChangecastError } from "../errors.js";

export type StateLockMode = "shared" | "exclusive";

export interface StateLockOptions {
  /** shared: many workers of one Postgres state; exclusive: alone (SQLite is always exclusive) */
  mode: StateLockMode;
  /** what the holder runs, shown to whoever is refused: "run", "migrate backfill" */
  command: string;
  /** what the lock covers on a Postgres state (e.g. the pipeline name); one SQLite file is one scope */
  scope?: string;
}

export interface StateLockHolder {
  command: string;
  pid: number;
  host: string;
  since: string;
  mode: StateLockMode;
}

export interface StateLock {
  /** the mode actually held (SQLite: always exclusive) */
  readonly mode: StateLockMode;
  /** aborted when the lock is lost while held (the Postgres lock connection dropped) */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** Another process holds the lock: names it and the state (without credentials). */
export class StateLockedError extends ChangecastError {
  override readonly name = "StateLockedError";
  readonly code = "STATE_LOCKED";
  constructor(
    readonly location: string,
    readonly holders: StateLockHolder[],
    wanted: StateLockOptions,
  ) {
    const who = holders.length
      ? holders.map(describeHolder).join("; ")
      : "another process (it has not recorded who it is yet)";
    super(
      `state ${location} is in use by ${who}: \`${wanted.command}\` needs it ` +
        `${wanted.mode === "exclusive" ? "alone" : "shared"}; wait for that process to finish or stop it, ` +
        `then try again (a killed holder releases the lock by itself)`,
    );
  }
}

function describeHolder(h: StateLockHolder): string {
  return `\`${h.command}\` (pid ${h.pid} on ${h.host}, since ${h.since}${h.mode === "shared" ? ", shared" : ""})`;
}

interface HolderRow {
  command: string;
  pid: number | string;
  host: string;
  since: string;
  mode: string;
}

const toHolder = (r: HolderRow): StateLockHolder => ({
  command: r.command,
  pid: Number(r.pid),
  host: r.host,
  since: r.since,
  mode: r.mode === "shared" ? "shared" : "exclusive",
});

/**
 * Takes the state store's writer lock, or throws StateLockedError at once (no waiting) when another process
 * holds a conflicting one. `sqlite::memory:` is private to its process: the lock is a no-op.
 */
export async function acquireStateLock(store: StateStore, opts: StateLockOptions): Promise<StateLock> {
  if (store.dialect === "postgres") return acquirePostgres(store, opts);
  if (store.file === undefined) {
    return { mode: "exclusive", lost: new AbortController().signal, release: async () => undefined };
  }
  return acquireSqlite(store, store.file, opts);
}

async function acquireSqlite(store: StateStore, file: string, opts: StateLockOptions): Promise<StateLock> {
  const lockFile = `${file}.lock`;
  // timeout 0: refuse at once instead of waiting for the holder
  const db = new Database(lockFile, { timeout: 0 });
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code;
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
      throw new StateStoreError(
        `state lock file ${lockFile} is damaged (${(err as Error).message}); it holds no data: delete it and try again`,
      );
    }
    if (code !== "SQLITE_BUSY") throw err;
    const rows: HolderRow[] = await store
      .knex(HOLDERS)
      .where({ holder: "sqlite" })
      .select("command", "pid", "host", "since", "mode");
    const holders = rows.map(toHolder);
    throw new StateLockedError(store.location, holders, { ...opts, mode: "exclusive" });
  }
  try {
    const row = {
      holder: "sqlite",
      scope: opts.scope ?? "",
      mode: "exclusive",
      command: opts.command,
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
    };
    await store
      .knex(HOLDERS)
      .insert(row)
      .onConflict("holder")
      .merge(["scope", "mode", "command", "pid", "host", "since"]);
  } catch (err) {
    db.exec("ROLLBACK");
    db.close();
    throw err;
  }
  let released = false;
  return {
    mode: "exclusive",
    lost: new AbortController().signal,
    release: async () => {
      if (released) return;
      released = true;
      try {
        await store.knex(HOLDERS).where({ holder: "sqlite", pid: process.pid }).delete();
      } finally {
        db.exec("ROLLBACK");
        db.close();
      }
    },
  };
}

/** The advisory lock of the scope, or StateLockedError naming its holders. */
async function tryAdvisoryLock(
  client: pg.Client,
  store: StateStore,
  opts: StateLockOptions,
  key: number,
): Promise<void> {
  const scope = opts.scope ?? "";
  const fn = opts.mode === "shared" ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock";
  const got = await client.query<{ ok: boolean }>(`SELECT ${fn}($1::int4, $2::int4) AS ok`, [
    LOCK_NAMESPACE,
    key,
  ]);
  if (got.rows[0]?.ok) return;
  // the holders are the sessions granted this advisory lock now; their rows say who they are
  const rows = await client.query<HolderRow>(
    `SELECT h.command, h.pid, h.host, h.since, h.mode
           FROM pg_locks l JOIN ${HOLDERS} h ON h.holder = l.pid::text
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2
          ORDER BY h.since`,
    [LOCK_NAMESPACE, key],
  );
  throw new StateLockedError(
    scope ? `${store.location} (pipeline ${scope})` : store.location,
    rows.rows.map(toHolder),
    opts,
  );
}

/** This session's row in the holders table; it replaces whatever a dead session with the same backend pid left behind. */
async function recordHolder(client: pg.Client, scope: string, opts: StateLockOptions): Promise<void> {
  await client.query(
    `INSERT INTO ${HOLDERS} (holder, scope, mode, command, pid, host, since)
       VALUES (pg_backend_pid()::text, $1, $2, $3, $4, $5, $6)
       ON CONFLICT (holder) DO UPDATE SET scope = EXCLUDED.scope, mode = EXCLUDED.mode,
         command = EXCLUDED.command, pid = EXCLUDED.pid, host = EXCLUDED.host, since = EXCLUDED.since`,
    [scope, opts.mode, opts.command, process.pid, hostname(), new Date().toISOString()],
  );
}

/** Advisory lock keys (int4, int4): a constant namespace, and the scope's hash. */
const LOCK_NAMESPACE = 0x63636173; // "ccas"
const scopeKey = (scope: string): number =>
  createHash("sha256").update(scope).digest().readUInt32BE(0) & 0x7fffffff;

async function acquirePostgres(store: StateStore, opts: StateLockOptions): Promise<StateLock> {
  const scope = opts.scope ?? "";
  const key = scopeKey(scope);
  // loaded for a Postgres state store only: the other commands and stores start without it
  const { default: pgModule } = await import("pg");
  const client = new pgModule.Client({
    connectionString: store.url,
    application_name: `changecast ${opts.command}`.slice(0, 63),
    // a silently vanished client host must not keep the lock for the kernel's default two hours
    keepAlive: true,
  });
  const lost = new AbortController();
  let released = false;
  // an 'error' without a listener would crash the process; the lock is gone either way
  client.on("error", (err) => {
    if (!released) lost.abort(new Error(`state lock lost: ${redactText(err.message)}`));
  });
  client.on("end", () => {
    if (!released) lost.abort(new Error("state lock lost: the lock connection closed"));
  });
  try {
    await client.connect();
  } catch (err) {
    throw new StateStoreUnavailableError(`state ${store.location}: ${redactText((err as Error).message)}`);
  }
  try {
    await tryAdvisoryLock(client, store, opts, key);
    await recordHolder(client, scope, opts);
  } catch (err) {
    released = true;
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    mode: opts.mode,
    lost: lost.signal,
    release: async () => {
      if (released) return;
      released = true;
      // a lost session has released everything already; the row of a dead session is ignored by readers
      if (!lost.signal.aborted) {
        await client
          .query(`DELETE FROM ${HOLDERS} WHERE holder = pg_backend_pid()::text`)
          .catch(() => undefined);
      }
      // ending the session releases the advisory lock
      await client.end().catch(() => undefined);
    },
  };
}
