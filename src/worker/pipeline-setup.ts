// Start-up of a pipeline: transform files loaded and checked, schemas registered (refusing incompatible ones).
import type { PipelineConfig } from "../config/pipeline-config.js";
import type { Problem } from "../config/yaml-source.js";
import { TransformSet } from "../map/mapper.js";
import { checkLookups, stateDeclarations } from "../map/state-declaration.js";
import { captureKeyColumns } from "./capture-keys.js";
import { checkHeldDeclarations } from "../map/held-checks.js";
import { readAggregateFile } from "../map/aggregate-file.js";
import { readTransformFile, type EventDeclaration, type TransformFile } from "../map/transform-file.js";
import { EmbeddedRegistry } from "../schemas/embedded-registry.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { RemoteRegistry } from "../schemas/remote-registry.js";
import { subjectName } from "../schemas/subject-name.js";
import type { StateStore } from "../state/store.js";
import type { SourceRecord } from "../decode/change-event.js";
import { DebeziumAvroDecoder } from "../decode/debezium-avro.js";
import { decodeDebeziumJson } from "../decode/debezium-json.js";
import { RecordProcessor, type EventRegistration } from "./record-processor.js";
import { ChangecastError } from "../errors.js";

export function loadTransforms(
  config: PipelineConfig,
  options: { captureKeys?: boolean } = {},
): { transforms: TransformSet; problems: Problem[] } {
  const files: TransformFile[] = [];
  const problems: Problem[] = [];
  for (const file of config.transforms) {
    const options = { allowAbsolutePaths: config.paths.allowAbsolute };
    // an aggregate file (`aggregate:` instead of `table:`) or a table's transform file
    const result =
      readAggregateFile(file, config.baseDir, undefined, options) ??
      readTransformFile(file, config.baseDir, undefined, options);
    problems.push(...result.problems);
    if (result.transform) files.push(result.transform);
  }
  // lookup() calls name tables with state: rows, their indexes, keys of the index's arity
  // (check) the key columns of state tables without primaryKey:, from the record keys of the capture files
  const undeclared = stateDeclarations(files).filter((d) => !d.primaryKey?.length);
  const keyColumns =
    options.captureKeys && undeclared.length
      ? captureKeyColumns(
          config.source.files,
          config.source.topicPrefix,
          undeclared.map((d) => d.table),
        )
      : undefined;
  problems.push(...checkLookups(files, keyColumns));
  // requires: parents keep table state; aggregates: distinct tables, a transaction topic
  problems.push(...checkHeldDeclarations(files, config.source));
  return { transforms: new TransformSet(files), problems };
}

export async function openRegistry(config: PipelineConfig, store: StateStore): Promise<SchemaRegistry> {
  return config.registry.url ? new RemoteRegistry(config.registry.url) : EmbeddedRegistry.open(store);
}

/** The subject, schema text and origin of every event schema the transforms use, one per subject. */
export function desiredSubjects(
  config: PipelineConfig,
  transforms: TransformSet,
): { subject: string; schema: string; origin: string; declarations: EventDeclaration[] }[] {
  const bySubject = new Map<
    string,
    { subject: string; schema: string; origin: string; declarations: EventDeclaration[] }
  >();
  for (const d of transforms.declarations) {
    const subject = subjectName(config.registry.subjectNameStrategy, d.topic, d.schema.fullName);
    const entry = bySubject.get(subject);
    if (entry) entry.declarations.push(d);
    else
      bySubject.set(subject, {
        subject,
        schema: d.schema.canonical,
        origin: d.schemaFile,
        declarations: [d],
      });
  }
  return [...bySubject.values()];
}

export class IncompatibleSchemaError extends ChangecastError {
  readonly code = "REGISTRY_STARTUP_INCOMPATIBLE";
  override readonly name = "IncompatibleSchemaError";
}

/**
 * Registers every event schema (idempotent). An incompatible schema stops start-up, naming the subject, so that
 * an incompatibility is never discovered at publish time.
 */
export async function registerEventSchemas(
  config: PipelineConfig,
  transforms: TransformSet,
  registry: SchemaRegistry,
): Promise<Map<EventDeclaration, EventRegistration>> {
  const registrations = new Map<EventDeclaration, EventRegistration>();
  for (const want of desiredSubjects(config, transforms)) {
    let registered = await registry.lookup(want.subject, want.schema);
    if (!registered) {
      const existing = await registry.latest(want.subject);
      if (!existing) {
        await registry.setCompatibility(config.registry.compatibility, want.subject);
      } else {
        const verdict = await registry.testCompatibility(want.subject, want.schema);
        if (!verdict.isCompatible) {
          throw new IncompatibleSchemaError(
            `schema ${want.origin} is INCOMPATIBLE with subject "${want.subject}" under ` +
              `${await registry.compatibility(want.subject)}:\n  ${verdict.messages.join("\n  ")}\n` +
              `Run \`changecast schemas plan\` for details and \`changecast migrate plan\` to publish a new major version.`,
          );
        }
      }
      registered = await registry.register(want.subject, want.schema);
    }
    for (const d of want.declarations) {
      registrations.set(d, { id: registered.id, subject: want.subject, version: registered.version });
    }
  }
  return registrations;
}

/** The per-record processor of a pipeline, with the decoder its source format needs. */
export function createRecordProcessor(
  config: PipelineConfig,
  transforms: TransformSet,
  registrations: Map<EventDeclaration, EventRegistration>,
  registry: SchemaRegistry,
  /** where an AvroConverter source's writer schemas come from; default: the registry */
  writerSchemas: (id: number) => Promise<string> = (id) => registry.schemaById(id),
): RecordProcessor {
  const topicPrefix = config.source.topicPrefix;
  // AvroConverter sources: writer schemas come from the registry the connector registered them in (or, offline,
  // from the schema lines of a capture)
  const avro =
    config.source.format === "avro" ? new DebeziumAvroDecoder(writerSchemas, { topicPrefix }) : null;
  return new RecordProcessor({
    ...(avro
      ? {
          decode: (r: SourceRecord) => avro.decode(r),
          prepare: (rs: readonly SourceRecord[]) => avro.prefetch(rs),
        }
      : { decode: (r: SourceRecord) => decodeDebeziumJson(r, { topicPrefix }) }),
    pipeline: config.pipeline,
    transforms,
    registrations,
    deadLetterTopic: config.errors.deadLetterTopic,
    maxRecordBytes: config.limits.maxRecordBytes,
    maxEventBytes: config.limits.maxEventBytes,
  });
}
