// The switch filter of a group as `migrate switch` recorded it in the state store.
import type { Knex } from "knex";
import { MigrationStore } from "./state.js";
import { createSwitchFilter, type SwitchFilter } from "./switch.js";

/**
 * The group's switch filter: the skip set on the new topic (empty when the switch was exact) and, once the
 * group has switched, the scope that drops the migrated event's records on the old topic — a group keeps
 * consuming an old topic shared with other event types for those (pass the record's topic to `accept`).
 * Inert when the group never switched.
 */
export async function loadSwitchFilter(
  knex: Knex,
  pipeline: string,
  event: string,
  group: string,
): Promise<SwitchFilter> {
  const store = await MigrationStore.open(knex, pipeline);
  const entry = (await store.groups(event)).find((g) => g.group === group);
  if (!entry?.switchedTo) return createSwitchFilter([]);
  const migration = (await store.migrations(event)).find((m) => m.toMajor === entry.switchedTo);
  return createSwitchFilter(
    entry.skipIds,
    migration?.oldType ? { oldTopic: migration.oldTopic, oldType: migration.oldType } : undefined,
  );
}
