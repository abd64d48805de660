// The tables owned by src/state/table-state-store.ts (the table state of `state: rows` transform files). Shipped
// tables change only through a new migration, registered in ./index.ts.
import type { Knex } from "knex";
import { createTableIfMissing } from "./table.js";

export const TABLE_STATE_ROWS = "table_state_rows";
export const TABLE_STATE_HISTORY = "table_state_history";
export const TABLE_STATE_SEQ = "table_state_seq";
export const TABLE_STATE_OFFSETS = "table_state_offsets";

/** The latest row image per primary key, the previous image per applied change, and the write sequence. */
export async function createTableStateTables(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, TABLE_STATE_ROWS, (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("tbl", 400).notNullable();
    // the primary key as canonical text (map/row-codec.ts)
    t.text("pk").notNullable();
    // lossless tagged JSON of the row; null: deleted (kept so that an older change never resurrects it)
    t.text("image").nullable();
    // fixed-width text, ordered as text (map/table-state.ts: statePosition)
    t.string("position", 120).notNullable();
    // the write that last changed the row (table_state_seq): other workers poll rows above what they saw
    t.bigInteger("seq").notNullable();
    t.primary(["pipeline", "tbl", "pk"]);
    t.index(["pipeline", "seq"], "table_state_rows_seq");
  });
  await createTableIfMissing(knex, TABLE_STATE_HISTORY, (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("tbl", 400).notNullable();
    t.text("pk").notNullable();
    // the applied change's position and the image that preceded it: a redelivered change sees the same one
    t.string("position", 120).notNullable();
    t.text("prev_image").nullable();
    t.string("prev_position", 120).nullable();
    // the source record that applied it: history is pruned once that record's offset is committed
    t.string("topic", 400).notNullable();
    t.integer("partition").notNullable();
    t.bigInteger("record_offset").notNullable();
    t.primary(["pipeline", "tbl", "pk", "position"]);
    t.index(["pipeline", "topic", "partition", "record_offset"], "table_state_history_offset");
  });
  await createTableIfMissing(knex, TABLE_STATE_SEQ, (t) => {
    t.string("pipeline", 200).notNullable().primary();
    t.bigInteger("seq").notNullable();
  });
  await createTableIfMissing(knex, TABLE_STATE_OFFSETS, (t) => {
    // the next source offset not yet applied to the state, per partition (bootstrap resumes there)
    t.string("pipeline", 200).notNullable();
    t.string("topic", 400).notNullable();
    t.integer("partition").notNullable();
    t.bigInteger("next_offset").notNullable();
    t.primary(["pipeline", "topic", "partition"]);
  });
}
