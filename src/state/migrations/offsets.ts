// Tables owned by src/state/offsets.ts (OffsetStore). Shipped tables change only through a new migration,
// registered in ./index.ts.
import type { Knex } from "knex";
import { createTableIfMissing } from "./table.js";

/** Release 0.1.0: source offsets and embedded output positions, exactly as that release created them. */
export async function createOffsetTables(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, "source_offsets", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("topic", 255).notNullable();
    t.integer("partition").notNullable();
    t.string("next_offset", 32).notNullable();
    t.primary(["pipeline", "topic", "partition"]);
  });
  await createTableIfMissing(knex, "output_positions", (t) => {
    t.string("pipeline", 200).notNullable();
    t.string("file", 1024).notNullable();
    t.bigInteger("length").notNullable();
    t.primary(["pipeline", "file"]);
  });
}
