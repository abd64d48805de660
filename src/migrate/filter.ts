// The switch filter of a group as `migrate switch` recorded it in the state store.
import type { Knex } from "knex";
import { MigrationStore } from "./state.js";
import { createSwitchFilter, type SwitchFilter } from "./switch.js";

/** The group's switch filter (inert when the switch was exact or the group never switched). */
export async function loadSwitchFilter(
  knex: Knex,
  pipeline: string,
  event: string,
  group: string,
): Promise<SwitchFilter> {
  const store = await MigrationStore.open(knex, pipeline);
  const entry = (await store.groups(event)).find((g) => g.group === group);
  return createSwitchFilter(entry?.skipIds ?? []);
}
