// Start-up of the held changes (docs/state.md): dependencies and transaction aggregates plugged into the processor.
import type { PipelineConfig } from "../config/pipeline-config.js";
import type { TransformSet } from "../map/mapper.js";
import type { TableStateView } from "../map/table-state.js";
import { HeldStore } from "../state/held-store.js";
import type { StateStore } from "../state/store.js";
import { HeldChanges } from "./held-changes.js";
import type { RecordProcessor } from "./record-processor.js";

/**
 * Parent tables of `requires` are kept whole in memory, like looked-up tables (a parked change asks for its parent
 * synchronously): given to the table state as lookups of them.
 */
export function parentLookups(transforms: TransformSet): string[] {
  const tables = new Set([...transforms.requires.values()].flat().map((r) => r.table));
  return [...tables].map((t) => `lookup(${JSON.stringify(t)}, 0)`);
}

/** Plugs the held changes into the processor when the transforms declare requires or aggregates. */
export function setUpHeldChanges(
  config: PipelineConfig,
  transforms: TransformSet,
  processor: RecordProcessor,
  view: TableStateView | null,
  options: { store: StateStore | null },
): HeldChanges | null {
  if (!HeldChanges.wanted(transforms)) return null;
  const { store } = options;
  const held = new HeldChanges({
    transforms,
    store: store ? new HeldStore(store.knex, config.pipeline) : null,
    view,
    transactionTimeoutMs: config.source.transactionTimeout,
    // replay (no store) reads a finite input: what is still held times out at its end, not by the clock
    wallClock: store !== null,
    // workers of a consumer group share a Postgres state store
    sharedStore: store?.dialect === "postgres" && config.kafka.brokers.length > 0,
  });
  processor.useHeld(held);
  return held;
}
