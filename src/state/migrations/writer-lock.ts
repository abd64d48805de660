// The table owned by src/state/writer-lock.ts. Shipped tables change only through a new migration, registered
// in ./index.ts.
import type { Knex } from "knex";
import { createTableIfMissing } from "./table.js";

export const LOCK_HOLDERS_TABLE = "state_lock_holders";

/** After 0.1.0: who holds the writer lock, so that a refusal can name it. */
export async function createLockHoldersTable(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, LOCK_HOLDERS_TABLE, (t) => {
    // sqlite: "sqlite"; postgres: the backend pid of the session holding the advisory lock
    t.string("holder", 64).notNullable().primary();
    t.string("scope", 200).notNullable();
    t.string("mode", 16).notNullable();
    t.string("command", 200).notNullable();
    t.integer("pid").notNullable();
    t.string("host", 255).notNullable();
    t.string("since", 40).notNullable();
  });
}
