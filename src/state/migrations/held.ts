// Tables owned by src/state/held-store.ts (HeldStore): changes held back by dependencies (`requires:`) and by
// transaction aggregates. Shipped tables change only through a new migration, registered in ./index.ts.
import type { Knex } from "knex";
import { createTableIfMissing } from "./table.js";

export const HELD_TABLE = "held_changes";

/**
 * One row per held source record (its coordinates identify it, so a redelivered record is held once):
 * `kind` park (a change waiting for its parent) | tx (a change or END record of a transaction being
 * aggregated) | txdone (an aggregated transaction, so that late redeliveries of its records are ignored).
 * `released_by` marks a row whose release was published by the source record it names (topic/partition/offset):
 * a redelivery of that record releases it again, and it is deleted once that record's offset is committed.
 */
export async function createHeldTables(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, HELD_TABLE, (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("kind", 8).notNullable();
    t.string("topic", 255).notNullable();
    t.integer("partition").notNullable();
    t.string("offset", 32).notNullable();
    /** park: parent table and key; tx/txdone: the transaction */
    t.string("grp", 2048).notNullable();
    /** park: child table and key; tx: the table of the change ("" for END) */
    t.string("item", 2048).notNullable();
    t.bigInteger("source_time_ms").notNullable();
    t.bigInteger("held_at_ms").notNullable();
    /** the source record (key, value, headers, timestamp) as JSON; null for txdone */
    t.text("record");
    t.string("released_by", 300);
    t.string("released_as", 16);
    t.primary(["pipeline", "kind", "topic", "partition", "offset"]);
    t.index(["pipeline", "released_by"]);
  });
}
