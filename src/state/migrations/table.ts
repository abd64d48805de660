// Helpers for state-store migrations (see src/state/migrations/index.ts). A migration runs inside knex's
// migrator, in a transaction, under its lock; its steps are idempotent so that a state written by a release
// that created its tables ad hoc (before migrations were recorded) is upgraded in place: what exists is kept.
import type { Knex } from "knex";

/** Creates `name` with `build` unless it already exists (a state created before migrations were recorded). */
export async function createTableIfMissing(
  knex: Knex,
  name: string,
  build: (table: Knex.CreateTableBuilder) => void,
): Promise<void> {
  if (!(await knex.schema.hasTable(name))) await knex.schema.createTable(name, build);
}

/** Adds a column unless the table already has it. */
export async function addColumnIfMissing(
  knex: Knex,
  table: string,
  column: string,
  build: (table: Knex.AlterTableBuilder) => void,
): Promise<void> {
  if (!(await knex.schema.hasColumn(table, column))) await knex.schema.alterTable(table, build);
}
