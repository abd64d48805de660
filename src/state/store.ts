// The state store: offsets, the embedded registry and migration state, through knex on SQLite (default)
// or Postgres. Each stage owns its tables and creates them idempotently with `ensureTable`.
import { mkdirSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import knexFactory, { type Knex } from "knex";

export interface StateStore {
  readonly knex: Knex;
  readonly url: string;
  readonly dialect: "sqlite" | "postgres";
  close(): Promise<void>;
}

/** Opens `sqlite:<file>` (relative to baseDir), `sqlite::memory:` or `postgres://…`. */
export async function openStateStore(url: string, baseDir = process.cwd()): Promise<StateStore> {
  let knex: Knex;
  let dialect: StateStore["dialect"];
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    knex = knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 4 } });
    dialect = "postgres";
  } else if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length);
    const filename = file === ":memory:" ? ":memory:" : isAbsolute(file) ? file : resolve(baseDir, file);
    if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true });
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
          // workers, migrate commands and the registry may share one file: wait for a writer, don't fail
          conn.pragma("busy_timeout = 30000");
          conn.pragma("synchronous = NORMAL");
          done(null);
        },
      },
    });
    dialect = "sqlite";
  } else {
    throw new Error(`state: unsupported state store URL "${url}" (use sqlite:<file> or postgres://…)`);
  }
  return {
    knex,
    url,
    dialect,
    close: () => knex.destroy(),
  };
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
