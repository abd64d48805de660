// Start-up of the table state (docs/state.md): the view of the `state: rows` tables, its store, and the bootstrap
// that applies the looked-up tables' pending changes before anything else is processed.
import type { SourceRecord } from "../decode/change-event.js";
import type { TransformSet } from "../map/mapper.js";
import { indexKeyOf, lookedUpTables, stateDeclarations } from "../map/state-declaration.js";
import { TableStateView } from "../map/table-state.js";
import { KnexTableStateStore } from "../state/table-state-store.js";
import type { StateStore } from "../state/store.js";
import type { RecordProcessor } from "./record-processor.js";
import { TableStateRuntime } from "./table-state-runtime.js";

export interface TableStateSetup {
  runtime: TableStateRuntime;
  /** the looked-up tables (the parent tables of `requires` included), kept whole in memory */
  lookedUp: string[];
  /**
   * the looked-up tables the bootstrap reads first: not the parent tables of `requires` (even when looked up) — a
   * parent becomes present only when the worker processes its change, so its children wait for it (and for its
   * events) and never see its later changes
   */
  bootstrapped: string[];
}

/**
 * Builds the table state of the transforms and plugs it into the processor; null when no file declares
 * `state: rows`. `store` null keeps it in memory only, in input order (replay).
 */
export async function setUpTableState(
  transforms: TransformSet,
  processor: RecordProcessor,
  store: { state: StateStore; pipeline: string } | null,
  extraExpressions: readonly string[] = [],
): Promise<TableStateSetup | null> {
  const declarations = stateDeclarations(transforms.files);
  if (declarations.length === 0) return null;
  const view = new TableStateView(declarations, { ordering: store ? "position" : "input" }, indexKeyOf);
  const lookedUp = lookedUpTables(transforms.files, extraExpressions).filter((t) => view.has(t));
  const runtime = new TableStateRuntime(
    view,
    store ? new KnexTableStateStore(store.state.knex, store.pipeline) : null,
    lookedUp,
  );
  await runtime.start();
  processor.useTableState(view);
  processor.use(runtime);
  const parents = new Set([...transforms.requires.values()].flat().map((r) => r.table));
  return { runtime, lookedUp, bootstrapped: lookedUp.filter((t) => !parents.has(t)) };
}

/**
 * Applies the changes of the bootstrapped tables from `batches` to the state before the worker starts (nothing is
 * published, no offset committed): the worker then sees them again as redeliveries, mapped as they are now.
 * Changes of `noted` tables (parent tables of `requires:`) are not applied: `note` is told their primary keys
 * (rows on their way: the worker processes them later).
 */
export async function bootstrapTableState(
  setup: TableStateSetup,
  processor: RecordProcessor,
  batches: AsyncIterable<readonly SourceRecord[]>,
  /** topics known to carry other tables' changes: not decoded (embedded input mixes every topic) */
  skipTopics: ReadonlySet<string> = new Set(),
  noted?: { tables: readonly string[]; note(table: string, pk: string): void },
): Promise<number> {
  let applied = 0;
  const view = setup.runtime.view;
  for await (const batch of batches) {
    const records = skipTopics.size ? batch.filter((r) => !skipTopics.has(r.topic)) : batch;
    const changes = await processor.decodeChanges(records);
    for (const [record, change] of changes) {
      if (noted?.tables.includes(change.table) && change.op !== "d") {
        const pk = view.pkOf(change);
        if (pk !== null) noted.note(change.table, pk);
      }
      if (!setup.bootstrapped.includes(change.table)) changes.delete(record);
    }
    applied += changes.size;
    if (changes.size) await setup.runtime.applyOnly(records, changes);
  }
  return applied;
}
