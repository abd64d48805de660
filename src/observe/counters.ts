// A command's own statistics object (plain numbers and Map<string, number> that only grow, like RunStats or a
// sink's counters) exported as Prometheus counters, read at every scrape: the command keeps counting the way it
// does, and `startOpsServer` serves the registry. Nothing is counted twice, however often Prometheus scrapes.
import { Counter, type Registry } from "prom-client";

export interface ExportedCounter {
  /** full metric name, e.g. `changecast_sink_applied_total` */
  name: string;
  help: string;
  /** the current total; a Map gives one series per key under `label` */
  read: () => number | ReadonlyMap<string, number>;
  /** label of a Map's keys (default `key`) */
  label?: string;
}

export function exportCounters(registry: Registry, counters: readonly ExportedCounter[]): void {
  for (const spec of counters) {
    const label = spec.label ?? "key";
    const seen = new Map<string, number>();
    // what the source grew by since the last scrape, per series
    const growth = (): [string | null, number][] => {
      const value = spec.read();
      const entries: [string | null, number][] =
        typeof value === "number" ? [[null, value]] : [...value].map(([k, v]) => [k, v]);
      return entries.map(([key, total]) => {
        const id = key ?? "";
        const added = Math.max(0, total - (seen.get(id) ?? 0));
        seen.set(id, Math.max(total, seen.get(id) ?? 0));
        return [key, added];
      });
    };
    new Counter({
      name: spec.name,
      help: spec.help,
      labelNames: typeof spec.read() === "number" ? [] : [label],
      registers: [registry],
      collect() {
        for (const [key, added] of growth()) {
          if (key === null) this.inc(added);
          else this.inc({ [label]: key }, added);
        }
      },
    });
  }
}
