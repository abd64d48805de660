// Shared by the commands that run a pipeline (run, replay): config → transforms → registry → processor.
import { loadPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { ConfigError } from "../config/yaml-source.js";
import type { TransformSet } from "../map/mapper.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { openStateStore, type StateStore } from "../state/store.js";
import { acquireStateLock, type StateLock, type StateLockMode } from "../state/writer-lock.js";
import { watchMigrations } from "../migrate/majors.js";
import {
  createRecordProcessor,
  loadTransforms,
  openRegistry,
  registerEventSchemas,
} from "../worker/pipeline-setup.js";
import type { RecordProcessor } from "../worker/record-processor.js";
import { OfflineSchemas } from "../decode/offline-schemas.js";
import { setUpTableState, type TableStateSetup } from "../worker/table-state-setup.js";
import { parentLookups, setUpHeldChanges } from "../worker/held-setup.js";
import type { HeldChanges } from "../worker/held-changes.js";

export interface OpenPipeline {
  config: PipelineConfig;
  store: StateStore;
  registry: SchemaRegistry;
  transforms: TransformSet;
  processor: RecordProcessor;
  /**
   * With `offlineSchemas` and no Kafka (replay, embedded run): fill it with the input's schema lines; an
   * AvroConverter source reads its writer schemas from it (docs/records.md). Null otherwise.
   */
  offlineSchemas: OfflineSchemas | null;
  /** the state store's writer lock, when openPipeline was asked to take it */
  lock: StateLock | null;
  /** the table state of `state: rows` files (docs/state.md), null when no file declares it */
  tableState: TableStateSetup | null;
  /** dependencies and transaction aggregates (docs/state.md), null when no file declares them */
  held: HeldChanges | null;
  close(): Promise<void>;
}

export async function openPipeline(
  configFile: string,
  options: {
    stateUrl?: string;
    embeddedRegistry?: boolean;
    /** offline runs (replay, embedded run): writer schemas from the input's schema lines */
    offlineSchemas?: boolean;
    /** "memory": the table state lives in memory only, in input order (replay); default: in the state store */
    tableState?: "memory" | "store";
    /** take the state's writer lock (scope: the pipeline) before anything is written */
    lock?: { mode: StateLockMode | ((config: PipelineConfig) => StateLockMode); command: string };
    /** wraps the registry (metrics count its calls) before anything uses it */
    wrapRegistry?: (registry: SchemaRegistry) => SchemaRegistry;
  } = {},
): Promise<OpenPipeline> {
  const config = loadPipelineConfig(configFile);
  const { transforms, problems } = loadTransforms(config);
  if (problems.length) throw new ConfigError(problems);
  const store = await openStateStore(options.stateUrl ?? config.state, config.baseDir);
  let lock: StateLock | null = null;
  try {
    if (options.lock) lock = await takeLock(store, config, options.lock);
    const opened = await openRegistry(
      options.embeddedRegistry ? { ...config, registry: { ...config.registry, url: "" } } : config,
      store,
    );
    const registry = options.wrapRegistry ? options.wrapRegistry(opened) : opened;
    const registrations = await registerEventSchemas(config, transforms, registry);
    // the majors being published (dual publishing during a migration), kept current while the worker runs
    const migrations = await watchMigrations(store.knex, config.pipeline, transforms);
    const offline = offlineWriterSchemas(config, registry, options);
    const processor = createRecordProcessor(
      config,
      transforms,
      registrations,
      registry,
      ...(offline ? [offline.writerSchemas] : []),
    );
    const tableState = await setUpTableState(
      transforms,
      processor,
      options.tableState === "memory" ? null : { state: store, pipeline: config.pipeline },
      parentLookups(transforms),
    );
    const held = setUpHeldChanges(config, transforms, processor, tableState?.runtime.view ?? null, {
      store: options.tableState === "memory" ? null : store,
    });
    return {
      config,
      store,
      registry,
      transforms,
      processor,
      tableState,
      held,
      offlineSchemas: offline?.schemas ?? null,
      lock,
      close: () => closePipeline(migrations, registry, lock, store),
    };
  } catch (err) {
    await lock?.release();
    await store.close();
    throw err;
  }
}

/** The state's writer lock, scoped to the pipeline; the mode may depend on the config. */
function takeLock(
  store: StateStore,
  config: PipelineConfig,
  lock: { mode: StateLockMode | ((config: PipelineConfig) => StateLockMode); command: string },
): Promise<StateLock> {
  const { mode, command } = lock;
  return acquireStateLock(store, {
    mode: typeof mode === "function" ? mode(config) : mode,
    command,
    scope: config.pipeline,
  });
}

async function closePipeline(
  migrations: { stop(): void },
  registry: SchemaRegistry,
  lock: StateLock | null,
  store: StateStore,
): Promise<void> {
  migrations.stop();
  await registry.close?.();
  await lock?.release();
  await store.close();
}

/**
 * Offline (no Kafka: replay, embedded run), writer schemas come from the input's schema lines: the ids are the
 * source registry's, and the embedded registry's own ids (changecast's event schemas) would be different schemas
 * under the same numbers. An id without a schema line is asked of `registry.url` when one is set (never in
 * replay, which is offline by definition), else its records are dead-lettered.
 */
function offlineWriterSchemas(
  config: PipelineConfig,
  registry: SchemaRegistry,
  options: { embeddedRegistry?: boolean; offlineSchemas?: boolean },
): { schemas: OfflineSchemas; writerSchemas: (id: number) => Promise<string> } | null {
  if (!options.offlineSchemas || (!options.embeddedRegistry && config.kafka.brokers.length > 0)) return null;
  const schemas = new OfflineSchemas();
  const remote = !options.embeddedRegistry && config.registry.url !== "";
  return { schemas, writerSchemas: schemas.lookup(remote ? (id) => registry.schemaById(id) : undefined) };
}
