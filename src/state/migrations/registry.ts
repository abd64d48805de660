// Tables owned by the embedded schema registry (src/schemas/embedded-registry.ts), created and upgraded by the state
// store's migrations (src/state/migrations/index.ts). Shipped tables change only through a new migration.
import type { Knex } from "knex";
import { createTableIfMissing } from "./table.js";

export const T_SCHEMAS = "registry_schemas";
export const T_VERSIONS = "registry_versions";
export const T_CONFIG = "registry_config";

/** Release 0.1.0: the registry's tables exactly as that release created them. */
export async function createRegistryTables(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, T_SCHEMAS, (t) => {
    t.increments("id").primary();
    t.string("hash", 64).notNullable().unique();
    t.text("schema").notNullable();
  });
  await createTableIfMissing(knex, T_VERSIONS, (t) => {
    t.string("subject", 255).notNullable();
    t.integer("version").notNullable();
    t.integer("schema_id").notNullable();
    t.boolean("deleted").notNullable().defaultTo(false);
    // the schema id while the version is live, null once soft-deleted: one live version per schema
    // and subject, even when two workers register the same schema at once
    t.integer("live_schema_id").nullable();
    t.primary(["subject", "version"]);
    t.unique(["subject", "live_schema_id"]);
    t.index(["schema_id"]);
  });
  await createTableIfMissing(knex, T_CONFIG, (t) => {
    t.string("subject", 255).primary();
    t.string("compatibility", 32).notNullable();
  });
}
