// The state store's schema, as one ordered list of knex migrations, applied by `openStateStore` when it opens
// a store (src/state/store.ts) and recorded in the table `changecast_migrations` (its lock:
// `changecast_migrations_lock`). The migrations are TypeScript modules given to knex's migrator through a
// custom migrationSource: nothing is loaded from a migrations directory at run time.
//
// Each adapter owns its tables (it alone reads and writes them); their definitions (DDL) live here, one file
// per owner, so that the state store depends on nothing downstream (docs/architecture.md); this list orders them:
//   src/state/migrations/offsets.ts      — OffsetStore (src/state/offsets.ts)
//   src/state/migrations/writer-lock.ts  — the writer lock (src/state/writer-lock.ts)
//   src/state/migrations/registry.ts     — the embedded registry (src/schemas/embedded-registry.ts)
//   src/state/migrations/migration.ts    — MigrationStore (src/migrate/state.ts)
//   src/state/migrations/table-state.ts  — TableStateStore (src/state/table-state-store.ts)
//   src/state/migrations/held.ts         — HeldStore (src/state/held-store.ts)
//
// Rules: a migration that has shipped is never edited, renamed or removed — a change to a table is a new
// migration appended here. Every step is idempotent (create a table if missing, add a column if missing):
// migration 1 is the schema of release 0.1.0, which created its tables ad hoc without recording anything, so
// a store from that release (tables present, no changecast_migrations) is upgraded in place by running the
// whole list over it. There are no down migrations: an older changecast refuses a store that records a
// migration it does not know.
import type { Knex } from "knex";
import { addMigrationEventTypes, createMigrationTables } from "./migration.js";
import { createRegistryTables } from "./registry.js";
import { createOffsetTables } from "./offsets.js";
import { createLockHoldersTable } from "./writer-lock.js";
import { createTableStateTables } from "./table-state.js";
import { createHeldTables } from "./held.js";

export const MIGRATIONS_TABLE = "changecast_migrations";

export interface StateMigration {
  /** recorded in changecast_migrations; never changes once shipped */
  readonly name: string;
  readonly up: (knex: Knex) => Promise<void>;
}

export const STATE_MIGRATIONS: readonly StateMigration[] = [
  {
    // the tables of release 0.1.0, exactly as its ensureTable calls created them
    name: "0001_release_0_1_0",
    up: async (knex) => {
      await createOffsetTables(knex);
      await createRegistryTables(knex);
      await createMigrationTables(knex);
    },
  },
  { name: "0002_migrations_old_new_type", up: addMigrationEventTypes },
  { name: "0003_state_lock_holders", up: createLockHoldersTable },
  { name: "0004_table_state", up: createTableStateTables },
  { name: "0005_held_changes", up: createHeldTables },
];

/** knex's migrator reads the list above through this source. */
export const stateMigrationSource: Knex.MigrationSource<StateMigration> = {
  getMigrations: () => Promise.resolve([...STATE_MIGRATIONS]),
  getMigrationName: (m) => m.name,
  getMigration: (m) =>
    Promise.resolve({
      up: m.up,
      down: () => Promise.reject(new Error(`state-store migration ${m.name} cannot be undone`)),
    }),
};
