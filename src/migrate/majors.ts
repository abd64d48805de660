// Which majors of each event workers publish, derived from the `migrations` table, and the worker-side watcher
// that keeps a TransformSet's selection current.
import type { Knex } from "knex";
import type { MajorSelection, TransformSet } from "../map/mapper.js";
import { MigrationStore, type Migration } from "./state.js";
import { ChangecastError } from "../errors.js";

/**
 * Active majors of one event: the current major (the target of the latest finished migration, else the lowest
 * declared), plus the target of a migration in progress (started or cut over). An aborted migration publishes
 * only its source major again.
 */
export function activeMajors(lowestDeclared: number, migrations: readonly Migration[]): Set<number> {
  let current = lowestDeclared;
  for (const m of migrations) if (m.status === "finished" && m.toMajor > current) current = m.toMajor;
  const active = new Set([current]);
  for (const m of migrations) {
    if ((m.status === "started" || m.status === "cutover") && m.fromMajor === current) active.add(m.toMajor);
  }
  return active;
}

/** The selection for every event that has migrations; events without any keep the TransformSet default. */
export function selectionFor(
  transforms: TransformSet,
  migrations: readonly Migration[],
): Map<string, ReadonlySet<number>> {
  const lowest = new Map<string, number>();
  for (const d of transforms.declarations) {
    const major = d.major ?? 1;
    lowest.set(d.name, Math.min(major, lowest.get(d.name) ?? major));
  }
  const byEvent = new Map<string, Migration[]>();
  for (const m of migrations) byEvent.set(m.event, [...(byEvent.get(m.event) ?? []), m]);
  const selection = new Map<string, ReadonlySet<number>>();
  for (const [event, list] of byEvent) {
    const low = lowest.get(event);
    if (low !== undefined) selection.set(event, activeMajors(low, list));
  }
  return selection;
}

/** Active majors that no transform file declares (the worker must not start: it could not publish them). */
export function undeclaredMajors(transforms: TransformSet, selection: MajorSelection): string[] {
  const declared = new Set(transforms.declarations.map((d) => `${d.name}@${d.major ?? 1}`));
  const missing: string[] = [];
  for (const [event, majors] of selection) {
    for (const major of majors)
      if (!declared.has(`${event}@${major}`)) missing.push(`${event} major ${major}`);
  }
  return missing;
}

export class MigrationStateError extends ChangecastError {
  readonly code = "MIGRATE_STATE";
  override readonly name = "MigrationStateError";
}

/** How often a running worker re-reads the `migrations` table. */
export const MIGRATIONS_POLL_MS = 2_000;

/**
 * Loads the active majors into the TransformSet at start-up and re-reads the `migrations` table every
 * MIGRATIONS_POLL_MS while the worker runs (the timer does not keep the process alive). A record is mapped with
 * the selection current when it is processed; changes before `migrate start` was read only reach the new major
 * through `migrate backfill` (the switch-over refuses to skip them).
 */
export async function watchMigrations(
  knex: Knex,
  pipeline: string,
  transforms: TransformSet,
  pollMs = MIGRATIONS_POLL_MS,
): Promise<{ refresh(): Promise<void>; stop(): void }> {
  const store = await MigrationStore.open(knex, pipeline);
  const refresh = async () => {
    const selection = selectionFor(transforms, await store.migrations());
    const missing = undeclaredMajors(transforms, selection);
    if (missing.length) {
      throw new MigrationStateError(
        `migration state publishes ${missing.join(", ")}, which no transform file declares (add it under majors:, or \`changecast migrate abort\`)`,
      );
    }
    transforms.selectMajors(selection);
  };
  await refresh();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    // a failed poll keeps the last selection: the worker goes on publishing what it published
    refresh()
      .catch(() => undefined)
      .finally(() => {
        running = false;
      });
  }, pollMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
