// The state store: offsets, the embedded registry and migration state, through knex on SQLite (default)
// or Postgres. Each stage owns its tables and creates them idempotently with `ensureTable`.
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import Database from "better-sqlite3";
import knexFactory, { type Knex } from "knex";
import { redactUrl } from "../config/redact.js";
import { stateUrlProblem } from "../config/urls.js";
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

const SQLITE_HEADER = "SQLite format 3\0";

/** Opens `sqlite:<file>` (relative to baseDir), `sqlite::memory:` or `postgres://…`. */
export async function openStateStore(url: string, baseDir = process.cwd()): Promise<StateStore> {
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
  return {
    knex,
    url,
    dialect,
    location: file ?? redactUrl(url),
    file,
    close: () => knex.destroy(),
  };
}

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

/** Creates a table once; safe to call concurrently from several stages at start-up. */
export async function ensureTable(
  knex: Knex,
  name: string,
  build: (table: Knex.CreateTableBuilder) => void,
): Promise<void> {
  if (await knex.schema.hasTable(name)) return;
  try {
    await knex.schema.createTable(name, build);
  } catch (err) {
    // another worker created it between the check and the create
    if (!(await knex.schema.hasTable(name))) throw err;
  }
}
