// The state store: offsets, the embedded registry and migration state, through knex on SQLite (default)
// or Postgres. Each stage owns its tables; they are created and upgraded by versioned migrations
// (src/state/migrations/index.ts) that `openStateStore` applies when it opens the store.
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import Database from "better-sqlite3";
import knexFactory, { type Knex } from "knex";
import { redactText, redactUrl } from "../config/redact.js";
import { stateUrlProblem } from "../config/urls.js";
import { MIGRATIONS_TABLE, STATE_MIGRATIONS, stateMigrationSource } from "./migrations/index.js";
import { ChangecastError } from "../errors.js";

export interface StateStore {
  readonly knex: Knex;
  /** the URL as configured; it may hold a password: show `location` instead */
  readonly url: string;
  readonly dialect: "sqlite" | "postgres";
  /** what to show users: the absolute SQLite file, or the Postgres URL with its password masked */
  readonly location: string;
  /** the absolute SQLite file; undefined for `sqlite::memory:` and Postgres */
  readonly file: string | undefined;
  close(): Promise<void>;
}

/** A state store that cannot be opened as configured: a bad URL, an empty or corrupt SQLite file. */
export class StateStoreError extends ChangecastError {
  readonly code = "STATE_STORE";
  override readonly name = "StateStoreError";
}

/** The state store could not be reached (a Postgres connection refused or lost): retrying may succeed. */
export class StateStoreUnavailableError extends ChangecastError {
  readonly code = "STATE_UNAVAILABLE";
  override readonly name = "StateStoreUnavailableError";
}

const SQLITE_HEADER = "SQLite format 3\0";

export interface OpenStateStoreOptions {
  /**
   * Apply the state-store migrations at open (default true). False only for callers that need the store's
   * location without connecting to it.
   */
  migrate?: boolean;
}

/**
 * Opens `sqlite:<file>` (relative to baseDir), `sqlite::memory:` or `postgres://…`, and brings its tables up
 * to date (see src/state/migrations/index.ts).
 */
export async function openStateStore(
  url: string,
  baseDir = process.cwd(),
  options: OpenStateStoreOptions = {},
): Promise<StateStore> {
  let knex: Knex;
  let dialect: StateStore["dialect"];
  let file: string | undefined;
  // a URL that does not parse or names no host is refused here: pg would fall back to localhost
  const problem = stateUrlProblem(url);
  if (problem) throw new StateStoreError(`state: ${problem}`);
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    knex = knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 4 } });
    dialect = "postgres";
  } else if (url.startsWith("sqlite:")) {
    const name = url.slice("sqlite:".length);
    const filename = name === ":memory:" ? ":memory:" : isAbsolute(name) ? name : resolve(baseDir, name);
    if (filename !== ":memory:") {
      file = filename;
      mkdirSync(dirname(filename), { recursive: true });
      checkSqliteFile(filename);
    }
    knex = knexFactory({
      client: "better-sqlite3",
      connection: { filename },
      useNullAsDefault: true,
      // one connection: SQLite serialises writers anyway, and :memory: must stay one database
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { pragma(s: string): void }, done: (err: Error | null) => void) => {
          conn.pragma("journal_mode = WAL");
          // the registry server and migrate steps may share one file with a worker: wait, don't fail
          conn.pragma("busy_timeout = 30000");
          conn.pragma("synchronous = NORMAL");
          done(null);
        },
      },
    });
    dialect = "sqlite";
  } else {
    throw new StateStoreError(`state: ${stateUrlProblem(url)}`);
  }
  const location = file ?? redactUrl(url);
  if (options.migrate ?? true) {
    try {
      await migrateStateStore(knex, dialect, location);
    } catch (err) {
      await knex.destroy();
      throw err;
    }
  }
  return { knex, url, dialect, location, file, close: () => knex.destroy() };
}

const MIGRATIONS_LOCK_TABLE = `${MIGRATIONS_TABLE}_lock`;
/** how long to wait for another process that is migrating the same store */
const MIGRATION_WAIT_MS = 120_000;

/**
 * Applies the pending state-store migrations with knex's migrator (its lock table makes concurrent openers
 * wait for one another), after refusing a store that records a migration this version does not know.
 */
async function migrateStateStore(
  knex: Knex,
  dialect: StateStore["dialect"],
  location: string,
): Promise<void> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await createMigrationTables(knex, dialect);
      await refuseNewerState(knex, location);
      await knex.migrate.latest({ migrationSource: stateMigrationSource, tableName: MIGRATIONS_TABLE });
      return;
    } catch (err) {
      if (err instanceof StateStoreError) throw err;
      if (isContention(err) && Date.now() < deadline) {
        await sleep(Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
        continue;
      }
      const locked = (err as Error).name === "MigrationLocked";
      throw new StateStoreError(
        locked
          ? `state ${location}: another process has been upgrading its tables for ` +
              `${MIGRATION_WAIT_MS / 1000} s (${MIGRATIONS_LOCK_TABLE}.is_locked = 1); if no changecast is ` +
              `running on it, a crashed upgrade left the lock: set is_locked to 0 and try again`
          : `state ${location}: could not bring its tables up to date: ${redactText((err as Error).message)}`,
        { cause: err },
      );
    }
  }
}

/**
 * knex's migrator creates its two tables (and the lock row) outside any lock: two processes opening a new
 * store at once could both create them, or insert two lock rows (after which the lock could never be taken).
 * Created here first, in one transaction serialised between processes (an advisory lock on Postgres, the
 * database write lock on SQLite, where the loser fails and is retried).
 */
async function createMigrationTables(knex: Knex, dialect: StateStore["dialect"]): Promise<void> {
  if ((await knex.schema.hasTable(MIGRATIONS_TABLE)) && (await knex.schema.hasTable(MIGRATIONS_LOCK_TABLE))) {
    const rows: unknown[] = await knex(MIGRATIONS_LOCK_TABLE).select("index").limit(1);
    if (rows.length) return;
  }
  await knex.transaction(async (trx) => {
    if (dialect === "postgres") {
      // (int4, int4) keys: a namespace of its own, apart from the writer lock's 0x63636173
      await trx.raw("SELECT pg_advisory_xact_lock(?, 1)", [0x63636d67]);
    }
    // the same tables as knex's migrator creates (knex/lib/migrations/migrate/table-creator.js)
    if (!(await trx.schema.hasTable(MIGRATIONS_TABLE))) {
      await trx.schema.createTable(MIGRATIONS_TABLE, (t) => {
        t.increments();
        t.string("name");
        t.integer("batch");
        t.timestamp("migration_time");
      });
    }
    if (!(await trx.schema.hasTable(MIGRATIONS_LOCK_TABLE))) {
      await trx.schema.createTable(MIGRATIONS_LOCK_TABLE, (t) => {
        t.increments("index").primary();
        t.integer("is_locked");
      });
    }
    const rows: unknown[] = await trx(MIGRATIONS_LOCK_TABLE).select("index").limit(1);
    if (!rows.length) await trx(MIGRATIONS_LOCK_TABLE).insert({ is_locked: 0 });
  });
}

/** A store written by a newer changecast records migrations this version cannot know: refuse it, don't guess. */
async function refuseNewerState(knex: Knex, location: string): Promise<void> {
  const known = new Set(STATE_MIGRATIONS.map((m) => m.name));
  const rows: { name: string }[] = await knex(MIGRATIONS_TABLE).select("name").orderBy("id");
  const unknown = rows.map((r) => r.name).filter((name) => !known.has(name));
  if (unknown.length) {
    throw new StateStoreError(
      `state ${location} was written by a newer changecast: it records state-store migrations this version ` +
        `does not know (${unknown.join(", ")}; this version knows up to ` +
        `${STATE_MIGRATIONS[STATE_MIGRATIONS.length - 1]!.name}); run that newer changecast, or restore a ` +
        `backup taken before the upgrade`,
    );
  }
}

/** Another process creating or migrating the same store at the same moment: wait and try again. */
function isContention(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === "MigrationLocked") return true;
  if (typeof e.code === "string" && e.code.startsWith("SQLITE_BUSY")) return true;
  if (typeof e.code === "string" && e.code.startsWith("SQLITE_LOCKED")) return true;
  // unique violation, duplicate table, serialization failure, deadlock
  return ["23505", "42P07", "40001", "40P01"].includes(e.code ?? "");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An existing state file must be a readable SQLite database. SQLite silently treats a zero-length file as a
 * new, empty database: the offsets would be gone and every source record published again, so that is an
 * error, as is a file that is not a database (or whose schema is unreadable).
 */
function checkSqliteFile(filename: string): void {
  if (!existsSync(filename)) return;
  const restore =
    `restore it from a backup, or delete it (with its -wal and -shm files) to start over: ` +
    `every source record is then read and published again`;
  const size = statSync(filename).size;
  if (size === 0) {
    throw new StateStoreError(
      `state file ${filename} is empty (0 bytes; truncated or never written completely): ${restore}`,
    );
  }
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(filename, "r");
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString("latin1") !== SQLITE_HEADER) {
    throw new StateStoreError(`state file ${filename} is not a SQLite database (${size} bytes): ${restore}`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(filename, { fileMustExist: true, timeout: 30_000 });
    db.prepare("SELECT count(*) FROM sqlite_master").get();
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB") {
      throw new StateStoreError(`state file ${filename} is corrupt (${(err as Error).message}): ${restore}`);
    }
    throw err;
  } finally {
    db?.close();
  }
}
