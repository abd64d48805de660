// Tables owned by the migration state (src/migrate/state.ts, MigrationStore), created and upgraded by the state store's
// migrations (src/state/migrations/index.ts). Shipped tables change only through a new migration.
import type { Knex } from "knex";
import { addColumnIfMissing, createTableIfMissing } from "./table.js";

/** Release 0.1.0: the migration tables exactly as that release created them. */
export async function createMigrationTables(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, "migrations", (t) => {
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
  await createTableIfMissing(knex, "migration_groups", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("event", 255).notNullable();
    t.string("group_id", 255).notNullable();
    t.integer("switched_to").nullable();
    t.string("switched_at", 40).nullable();
    t.string("switch_case", 20).nullable();
    t.text("skip_ids").nullable();
    t.primary(["pipeline", "event", "group_id"]);
  });
  await createTableIfMissing(knex, "consumer_group_offsets", (t) => {
    t.string("group_id", 255).notNullable();
    t.string("topic", 255).notNullable();
    t.integer("partition").notNullable();
    t.string("next_offset", 32).notNullable();
    t.primary(["group_id", "topic", "partition"]);
  });
}

/** After 0.1.0: the ce_type of the event's records on the old and new topic (null in rows written before). */
export async function addMigrationEventTypes(knex: Knex): Promise<void> {
  for (const column of ["old_type", "new_type"]) {
    await addColumnIfMissing(knex, "migrations", column, (t) => {
      t.string(column, 512).nullable();
    });
  }
}
