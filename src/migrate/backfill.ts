// Backfill (embedded mode): re-derives the new major's history from the source files, publishing only the new
// major and only the facts its topic does not carry yet (by ce_id), so a re-run after a crash publishes the rest.
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join, relative } from "node:path";
import type { PipelineConfig } from "../config/pipeline-config.js";
import type { SourcePosition, SourceRecord } from "../decode/change-event.js";
import { parseCaptureLine } from "../decode/kcat.js";
import { OfflineSchemas } from "../decode/offline-schemas.js";
import { TransformSet } from "../map/mapper.js";
import type { EventDeclaration } from "../map/transform-file.js";
import { comparePositions, parsePosition } from "../publish/event-id.js";
import { embeddedOutputLine } from "../embedded/embedded-transport.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { OffsetStore } from "../state/offsets.js";
import type { StateStore } from "../state/store.js";
import { heldRecords } from "../worker/held-changes.js";
import { parentLookups, setUpHeldChanges } from "../worker/held-setup.js";
import { createRecordProcessor, registerEventSchemas } from "../worker/pipeline-setup.js";
import { setUpTableState } from "../worker/table-state-setup.js";
import type { RecordProcessor } from "../worker/record-processor.js";
import { readEmbeddedTopic } from "./topics.js";

export interface BackfillOptions {
  config: PipelineConfig;
  store: StateStore;
  registry: SchemaRegistry;
  /** the pipeline's transforms; only the event's new major is used */
  transforms: TransformSet;
  event: string;
  major: number;
  /** only changes at or after this changecast_position */
  from?: string;
  batchSize?: number;
  onProgress?: (p: BackfillProgress) => void;
  /** set to stop after the current batch (the next run continues by ce_id) */
  signal?: AbortSignal;
  /** one-line notes on what the backfill leaves out */
  onNote?: (line: string) => void;
}

export interface BackfillProgress {
  read: number;
  total: number;
  published: number;
  alreadyPresent: number;
  /** changes the new major's mapping rejects (the live run dead-letters them) */
  failed: number;
  etaSeconds: number | null;
  done: boolean;
}

/** Progress before the first record of a backfill of `total` records. */
export function startProgress(total: number): BackfillProgress {
  return { read: 0, total, published: 0, alreadyPresent: 0, failed: 0, etaSeconds: null, done: false };
}

/**
 * Source records of every embedded source file, in the order the embedded worker consumes them; the files'
 * writer schema lines (captures of AvroConverter topics) go to `schemas`.
 */
export function readSourceRecords(
  config: PipelineConfig,
  schemas?: OfflineSchemas,
  /**
   * the embedded worker's committed source offsets (OffsetStore.offsets()): only lines below them are read,
   * and `left` counts the records above them
   */
  bound?: { committed: ReadonlyMap<string, bigint>; left: number },
): SourceRecord[] {
  const all: { record: SourceRecord; ts: number; file: number; line: number }[] = [];
  config.source.files.forEach((path, file) => {
    const lines = readFileSync(path, "utf8").split("\n");
    // the key the embedded transport commits a file's next line under
    const next = bound?.committed.get(`file:${relative(config.baseDir, path)}/0`) ?? 0n;
    lines.forEach((text, line) => {
      if (text.trim() === "") return;
      try {
        const parsed = parseCaptureLine(text);
        if (parsed.kind === "schema") schemas?.add(parsed.schemaId, parsed.schema, `${path}:${line + 1}`);
        else if (bound && BigInt(line) >= next) bound.left++;
        else all.push({ record: parsed.record, ts: parsed.record.timestamp ?? 0, file, line });
      } catch {
        // not a kcat line: the live run dead-lettered it; nothing to backfill
      }
    });
  });
  // the embedded transport's k-way merge by timestamp: earlier file first on ties, file order kept
  all.sort((a, b) => a.ts - b.ts || a.file - b.file || a.line - b.line);
  return all.map((r) => r.record);
}

/** The new major of one event alone: its transforms, topic and a processor that maps nothing else. */
export async function newMajorProcessor(
  options: Pick<BackfillOptions, "config" | "registry" | "transforms" | "event" | "major">,
  /** an AvroConverter source's writer schemas, when not the registry's (embedded: the files' schema lines) */
  writerSchemas?: (id: number) => Promise<string>,
): Promise<{ topic: string; transforms: TransformSet; processor: RecordProcessor }> {
  const { config } = options;
  // only the new major of this event: other events and the old major are untouched
  const isTarget = (d: EventDeclaration) => d.name === options.event && (d.major ?? 1) === options.major;
  const aggregated = options.transforms.aggregates.some((a) => a.events.some(isTarget));
  // an aggregate event needs the transactions, the table state and the dependencies as the worker has them
  // (in memory, in input order, as replay): every file is kept, with no events but the target
  const files = options.transforms.files
    .map((f) => ({
      ...f,
      events: f.events.filter(isTarget),
      ...(f.aggregate ? { aggregate: { ...f.aggregate, events: f.aggregate.events.filter(isTarget) } } : {}),
    }))
    .filter((f) => aggregated || f.events.length > 0);
  const first = files.flatMap((f) => [...f.events, ...(f.aggregate?.events ?? [])])[0];
  if (!first) throw new Error(`backfill: no transform file declares ${options.event} major ${options.major}`);
  const transforms = new TransformSet(files);
  transforms.selectMajors(new Map([[options.event, new Set([options.major])]]));
  const registrations = await registerEventSchemas(config, transforms, options.registry);
  const processor = createRecordProcessor(
    config,
    transforms,
    registrations,
    options.registry,
    ...(writerSchemas ? [writerSchemas] : []),
  );
  if (aggregated) {
    const tableState = await setUpTableState(transforms, processor, null, parentLookups(transforms));
    setUpHeldChanges(config, transforms, processor, tableState?.runtime.view ?? null, { store: null });
  }
  return { topic: first.topic, transforms, processor };
}

/** Seconds left at the rate so far (null before the first record). */
export function etaSeconds(startedMs: number, read: number, total: number): number | null {
  if (read <= 0) return null;
  const elapsed = (Date.now() - startedMs) / 1000;
  return Math.max(0, Math.round((elapsed / read) * (total - read)));
}

export async function backfillEmbedded(options: BackfillOptions): Promise<BackfillProgress> {
  const { config, store } = options;
  // as the embedded run decodes AvroConverter captures: the files' schema lines, then registry.url if set
  const schemas = new OfflineSchemas();
  const { topic, processor } = await newMajorProcessor(
    options,
    schemas.lookup(config.registry.url ? (id) => options.registry.schemaById(id) : undefined),
  );
  const name = `${topic}.jsonl`;
  const path = join(config.outputDir, name);

  const offsets = await OffsetStore.open(store.knex, config.pipeline);
  mkdirSync(config.outputDir, { recursive: true });
  // output of an interrupted batch (worker or backfill) is not part of the topic: cut it off, as the worker does
  let length = (await offsets.outputLengths()).get(name) ?? 0;
  if (existsSync(path) && statSync(path).size > length) truncateSync(path, length);
  const present = new Set<string>(
    (await readEmbeddedTopic(store.knex, config.pipeline, config.outputDir, topic)).map(
      (r) => r.headers.ce_id ?? "",
    ),
  );

  const from = options.from ? parsePosition(options.from) : null;
  // changes the worker has not processed yet are left to it: it publishes both majors for them, so reading
  // them here too would put their facts on the new topic twice (as the Kafka backfill's bound)
  const bound = { committed: await offsets.offsets(), left: 0 };
  const records = readSourceRecords(config, schemas, bound);
  if (bound.left)
    options.onNote?.(
      `${bound.left} source records the worker has not processed yet are left to it (it publishes both majors for them)`,
    );
  const progress = startProgress(records.length);
  const started = Date.now();
  const batchSize = options.batchSize ?? 500;
  for (let i = 0; i < records.length && !options.signal?.aborted; i += batchSize) {
    const lines: string[] = [];
    const batch = records.slice(i, i + batchSize);
    // AvroConverter sources: the batch's writer schemas fetched before decoding, as the worker does
    await processor.prepare(batch);
    for (const record of batch) {
      for (const out of selectBackfillEvents(processor, record, from, present, progress)) {
        lines.push(embeddedOutputLine(out));
        progress.published++;
      }
    }
    if (lines.length) {
      const text = lines.join("\n") + "\n";
      appendFileSync(path, text);
      length += Buffer.byteLength(text);
      // the same bookkeeping as the worker: the line counts once its length is committed
      await offsets.commit([], new Map([[name, length]]));
    }
    progress.etaSeconds = etaSeconds(started, progress.read, progress.total);
    options.onProgress?.({ ...progress });
  }
  progress.done = progress.read === progress.total;
  progress.etaSeconds = 0;
  return progress;
}

/**
 * The new-major events a backfill publishes for one source record: not before `from`, not already on the new
 * topic (`present` is updated). Dead letters are counted as failed, except ROUTE (a table change this major
 * does not map), which the live run dead-letters anyway.
 */
export function selectBackfillEvents(
  processor: RecordProcessor,
  record: SourceRecord,
  from: SourcePosition | null,
  present: Set<string>,
  progress: BackfillProgress,
): PublishedRecord[] {
  const outcome = processor.process(record);
  progress.read++;
  // aggregate events (and released changes) come as held outcomes; what is still held at the end of the backfill
  // is left to the worker, which publishes both majors when it completes
  const held = processor.takeHeldOutcomes().flatMap((h) => heldRecords(h));
  const made = outcome.kind === "events" ? [...outcome.records, ...held] : held;
  if (outcome.kind === "dead-letter" && outcome.stage !== "ROUTE") progress.failed++;
  const selected: PublishedRecord[] = [];
  for (const published of made) {
    // a released or timed-out change's dead letter: the live run has it
    if (!published.record.headers.ce_id) continue;
    const headers = published.record.headers;
    const id = headers.ce_id ?? "";
    if (from && comparePositions(parsePosition(headers.changecast_position ?? ""), from) < 0) continue;
    if (present.has(id)) {
      progress.alreadyPresent++;
      continue;
    }
    present.add(id);
    selected.push(published);
  }
  return selected;
}
