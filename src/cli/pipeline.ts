// Shared by the commands that run a pipeline (run, replay): config → transforms → registry → processor.
import { loadPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { ConfigError } from "../config/yaml-source.js";
import type { TransformSet } from "../map/mapper.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { openStateStore, type StateStore } from "../state/store.js";
import { watchMigrations } from "../migrate/majors.js";
import {
  createRecordProcessor,
  loadTransforms,
  openRegistry,
  registerEventSchemas,
} from "../worker/pipeline-setup.js";
import type { RecordProcessor } from "../worker/record-processor.js";

export interface OpenPipeline {
  config: PipelineConfig;
  store: StateStore;
  registry: SchemaRegistry;
  transforms: TransformSet;
  processor: RecordProcessor;
  close(): Promise<void>;
}

export async function openPipeline(
  configFile: string,
  options: { stateUrl?: string; embeddedRegistry?: boolean } = {},
): Promise<OpenPipeline> {
  const config = loadPipelineConfig(configFile);
  const { transforms, problems } = loadTransforms(config);
  if (problems.length) throw new ConfigError(problems);
  const store = await openStateStore(options.stateUrl ?? config.state, config.baseDir);
  try {
    const registry = await openRegistry(
      options.embeddedRegistry ? { ...config, registry: { ...config.registry, url: "" } } : config,
      store,
    );
    const registrations = await registerEventSchemas(config, transforms, registry);
    // the majors being published (dual publishing during a migration), kept current while the worker runs
    const migrations = await watchMigrations(store.knex, config.pipeline, transforms);
    const processor = createRecordProcessor(config, transforms, registrations, registry);
    return {
      config,
      store,
      registry,
      transforms,
      processor,
      close: async () => {
        migrations.stop();
        await registry.close?.();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
