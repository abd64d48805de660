// The sink (docs/sink.md): published events → rows of a SQL database, exactly once. Per batch, one database
// transaction holds the rows, the tombstones and the consumed positions; the consumer group's offsets are a
// mirror written after the commit (for `migrate status` and `migrate switch`), never the source of truth.
import { appendFileSync, existsSync, mkdirSync, statSync, truncateSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Knex } from "knex";
import type { CommandIO } from "../command-io.js";
import { errorCode, isRetriable } from "../errors.js";
import { loadSwitchFilter } from "../migrate/filter.js";
import { EmbeddedGroupOffsets, MigrationStore } from "../migrate/state.js";
import type { SwitchFilter } from "../migrate/switch.js";
import { DLQ_HEADERS } from "../publish/output-record.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { openStateStore, type StateStore } from "../state/store.js";
import { openRegistry } from "../worker/pipeline-setup.js";
import { applyOps, countInto, type ApplyCounts } from "./apply.js";
import { EmbeddedSinkSource } from "./embedded-source.js";
import { SinkApplyError, SinkStoppedError } from "./errors.js";
import { Projector, type RowOp, type SinkRecord } from "./project.js";
import type { SinkConfig } from "./sink-config.js";
import { SinkStats } from "./stats.js";
import {
  DLQ_POSITION_PREFIX,
  openTarget,
  POSITIONS_TABLE,
  readPositions,
  writePositions,
  type Target,
} from "./target.js";

export interface SinkRunOptions {
  config: SinkConfig;
  io: CommandIO;
  /** embedded mode: keep polling for new output instead of stopping at the end */
  follow?: boolean;
  /** Kafka mode: stop after this long without a record (default: run until stopped) */
  idleExitMs?: number;
  signal?: AbortSignal;
  stats?: SinkStats;
}

/** A dead letter of the sink: the record and why. */
export interface SinkDeadLetter {
  record: SinkRecord;
  error: Error;
}

/** Where dead letters go: appended before the batch commits (embedded: its length is committed with it). */
export interface DeadLetterOutput {
  write(letters: SinkDeadLetter[], positions: Map<string, bigint>): Promise<void>;
}

/** What the sink needs of the pipeline: its state store (migrations, embedded output) and registry. */
export interface SinkContext {
  config: SinkConfig;
  state: StateStore;
  registry: SchemaRegistry;
  target: Target;
  stats: SinkStats;
  /** the switch filters of the events whose migration the sink's group switched to */
  filters: SwitchFilter[];
  /** the topics read: the configured ones and the new majors' topics of switched migrations */
  topics: string[];
  close(): Promise<void>;
}

export async function openSink(config: SinkConfig, stats = new SinkStats()): Promise<SinkContext> {
  const pipeline = config.pipeline;
  const state = await openStateStore(pipeline.state, pipeline.baseDir);
  let registry: SchemaRegistry | null = null;
  let target: Target | null = null;
  try {
    registry = await openRegistry(pipeline, state);
    target = await openTarget(config);
    const { filters, topics } = await migrationView(config, state.knex);
    const reg = registry;
    const tgt = target;
    return {
      config,
      state,
      registry,
      target,
      stats,
      filters,
      topics,
      close: async () => {
        await tgt.close();
        await reg.close?.();
        await state.close();
      },
    };
  } catch (err) {
    await target?.close();
    await registry?.close?.();
    await state.close();
    throw err;
  }
}

/** The event names (as the migrator knows them) of the projected types. */
export function projectedEvents(config: SinkConfig): string[] {
  const types = new Set(config.projections.map((p) => p.type));
  return [
    ...new Set(config.transforms.declarations.filter((d) => types.has(d.schema.fullName)).map((d) => d.name)),
  ];
}

/**
 * Registers the sink's group for every projected event (so `migrate status` and `cutover` account for it) and
 * reads the switches already made: their filters, and the new majors' topics to read as well.
 */
async function migrationView(
  config: SinkConfig,
  state: Knex,
): Promise<{ filters: SwitchFilter[]; topics: string[] }> {
  const store = await MigrationStore.open(state, config.pipeline.pipeline);
  const filters: SwitchFilter[] = [];
  const topics = [...config.topics];
  for (const event of projectedEvents(config)) {
    await store.registerGroup(event, config.group);
    const entry = (await store.groups(event)).find((g) => g.group === config.group);
    if (!entry?.switchedTo) continue;
    filters.push(await loadSwitchFilter(state, config.pipeline.pipeline, event, config.group));
    const migration = (await store.migrations(event)).find((m) => m.toMajor === entry.switchedTo);
    if (migration && !topics.includes(migration.newTopic)) topics.push(migration.newTopic);
  }
  return { filters, topics };
}

/** The committed offsets the sink mirrors to its consumer group (embedded: the state store's group offsets). */
export type Mirror = (positions: ReadonlyMap<string, bigint>) => Promise<void>;

/**
 * Applies records (in the order read) in one transaction: projections, rows, dead letters, positions. Records
 * below a committed position (applied by another process of the same sink) are dropped inside the transaction.
 */
export class BatchApplier {
  private readonly projector: Projector;

  constructor(
    private readonly ctx: SinkContext,
    private readonly deadLetters: DeadLetterOutput,
    private readonly mirror: Mirror,
    private readonly io?: CommandIO,
  ) {
    this.projector = new Projector(ctx.config, ctx.registry, ctx.target.dialect);
  }

  async apply(records: SinkRecord[]): Promise<void> {
    if (!records.length) return;
    const { config, stats, target } = this.ctx;
    const tolerance = config.errors.tolerance;
    // projections first (CEL, decoding): no transaction is open while they run
    const planned: {
      record: SinkRecord;
      ops: RowOp[];
      filtered: number;
      dead: Error | null;
      skip: boolean;
      none: boolean;
    }[] = [];
    for (const record of records) {
      if (!this.ctx.filters.every((f) => f.accept(record.headers, record.topic))) {
        planned.push({ record, ops: [], filtered: 0, dead: null, skip: true, none: false });
        continue;
      }
      let projected;
      try {
        projected = await this.projector.project(record);
      } catch (err) {
        if (isRetriable(err)) throw err;
        projected = { kind: "dead" as const, error: err as Error };
      }
      if (projected.kind === "dead" && isRetriable(projected.error)) throw projected.error;
      planned.push({
        record,
        ops: projected.kind === "ops" ? projected.ops : [],
        filtered: projected.kind === "ops" ? projected.filtered : 0,
        dead: projected.kind === "dead" ? projected.error : null,
        skip: false,
        none: projected.kind === "none",
      });
    }
    const firstDead = planned.find((p) => p.dead);
    if (firstDead && tolerance === "none") throw stopped(firstDead.record, firstDead.dead!);

    const outcome = await target.knex.transaction(async (trx) => {
      await this.lock(trx);
      const committed = await readPositions(trx, config.sink);
      const fresh = planned.filter(
        (p) => p.record.offset >= (committed.get(`${p.record.topic}/${p.record.partition}`) ?? 0n),
      );
      let counts: ApplyCounts;
      const letters: SinkDeadLetter[] = fresh
        .filter((p) => p.dead)
        .map((p) => ({ record: p.record, error: p.dead! }));
      let slow = false;
      try {
        counts = await trx.transaction((sp) =>
          applyOps(
            sp,
            config.sink,
            fresh.flatMap((p) => p.ops),
          ),
        );
      } catch (err) {
        if (!isDataError(err)) throw err;
        // one event's row was refused: apply event by event, each in a savepoint, dead-lettering the refused ones
        slow = true;
        counts = { applied: [], skippedOlder: 0, parked: 0 };
        for (const p of fresh) {
          if (!p.ops.length) continue;
          try {
            const c = await trx.transaction((sp) => applyOps(sp, config.sink, p.ops));
            counts.applied.push(...c.applied);
            counts.skippedOlder += c.skippedOlder;
            counts.parked += c.parked;
          } catch (e) {
            if (!isDataError(e)) throw e;
            const error = new SinkApplyError(`${p.ops[0]!.table.name}: ${(e as Error).message}`, {
              cause: e,
            });
            if (tolerance === "none") throw stopped(p.record, error);
            letters.push({ record: p.record, error });
          }
        }
      }
      const next = new Map<string, bigint>();
      for (const p of planned) {
        const tp = `${p.record.topic}/${p.record.partition}`;
        const n = p.record.offset + 1n;
        if (n > (next.get(tp) ?? committed.get(tp) ?? 0n)) next.set(tp, n);
      }
      if (letters.length) await this.deadLetters.write(letters, next);
      await writePositions(trx, config.sink, next);
      return { counts, letters, fresh, slow, next };
    });
    countInto(stats, outcome.counts);
    stats.batches++;
    if (outcome.slow) stats.slowBatches++;
    stats.read += records.length;
    for (const p of planned) {
      if (p.skip) stats.switchFiltered++;
      else if (p.none) stats.noProjection++;
      stats.filtered += p.filtered;
    }
    for (const l of outcome.letters) stats.deadLetter(errorCode(l.error));
    const mirrored = new Map([...outcome.next].filter(([tp]) => !tp.startsWith(DLQ_POSITION_PREFIX)));
    try {
      await this.mirror(mirrored);
    } catch (err) {
      // the mirror is for status and switch only; the next batch writes it again
      this.io?.err(
        `changecast sink: could not mirror offsets to group ${config.group}: ${(err as Error).message}`,
      );
    }
  }

  /** One writer per sink at a time (Postgres: a transaction-scoped advisory lock; SQLite serialises writers). */
  private async lock(trx: Knex.Transaction): Promise<void> {
    if (this.ctx.target.dialect === "postgres")
      await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [`changecast-sink:${this.ctx.config.sink}`]);
    // SQLite: a write first, so the transaction holds the write lock before it reads
    else await trx(POSITIONS_TABLE).whereRaw("1 = 0").update({ next_offset: "0" });
  }
}

function stopped(record: SinkRecord, error: Error): SinkStoppedError {
  return new SinkStoppedError(
    `errors.tolerance none: stopped at ${record.topic}[${record.partition}]@${record.offset} (${errorCode(error)}: ${error.message}); nothing past it is committed`,
    { cause: error },
  );
}

/**
 * A database error that is the row's fault, not the connection's: Postgres SQLSTATE classes 22 (data
 * exception) and 23 (integrity constraint), SQLite constraint and type errors.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}

/** The dead-letter headers of a record: its own headers plus where it came from and why it failed. */
export function deadLetterHeaders(l: SinkDeadLetter): Record<string, string> {
  return {
    ...l.record.headers,
    [DLQ_HEADERS.topic]: l.record.topic,
    [DLQ_HEADERS.partition]: String(l.record.partition),
    [DLQ_HEADERS.offset]: l.record.offset.toString(),
    [DLQ_HEADERS.stage]: "SINK",
    [DLQ_HEADERS.className]: `changecast.${l.error.name}`,
    [DLQ_HEADERS.code]: errorCode(l.error),
    [DLQ_HEADERS.message]: l.error.message.slice(0, 4096),
  };
}

/** Embedded dead letters: `<outputDir>/<deadLetterTopic>.jsonl`, its committed length kept with the positions. */
export class EmbeddedDeadLetters implements DeadLetterOutput {
  private length = 0;
  private constructor(
    private readonly topic: string,
    private readonly path: string,
    private readonly positionKey: string,
  ) {}

  static async open(ctx: SinkContext): Promise<EmbeddedDeadLetters> {
    const topic = ctx.config.errors.deadLetterTopic;
    const path = join(ctx.config.pipeline.outputDir, `${topic}.jsonl`);
    const key = `${DLQ_POSITION_PREFIX}${topic}/0`;
    const out = new EmbeddedDeadLetters(topic, path, key);
    const committed = Number((await readPositions(ctx.target.knex, ctx.config.sink)).get(key) ?? 0n);
    // letters of a batch that never committed are cut off: they are written again when the batch is
    if (existsSync(path) && statSync(path).size > committed) truncateSync(path, committed);
    out.length = existsSync(path) ? Math.min(committed, statSync(path).size) : 0;
    return out;
  }

  write(letters: SinkDeadLetter[], positions: Map<string, bigint>): Promise<void> {
    const text =
      letters
        .map((l) =>
          JSON.stringify({
            topic: this.topic,
            key: l.record.key,
            headers: deadLetterHeaders(l),
            payloadBase64: l.record.value ? l.record.value.toString("base64") : null,
          }),
        )
        .join("\n") + "\n";
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, text);
    this.length += Buffer.byteLength(text);
    positions.set(this.positionKey, BigInt(this.length));
    return Promise.resolve();
  }
}

/** Embedded mode: reads the output files until their committed end (or follows them), applying batch by batch. */
export async function runEmbeddedSink(ctx: SinkContext, opts: SinkRunOptions): Promise<void> {
  const { config } = ctx;
  const positions = await readPositions(ctx.target.knex, config.sink);
  const groupOffsets = await EmbeddedGroupOffsets.open(ctx.state.knex);
  const source = new EmbeddedSinkSource(ctx.state.knex, config.pipeline.pipeline, config.pipeline.outputDir);
  for (const topic of ctx.topics) {
    // no position yet: where the group's offsets say (`sink switch` commits the new major's start there)
    const start = positions.get(`${topic}/0`) ?? (await groupOffsets.fetch(config.group, topic)).get(0) ?? 0n;
    source.subscribe(topic, start);
  }
  const dlq = await EmbeddedDeadLetters.open(ctx);
  const applier = new BatchApplier(
    ctx,
    dlq,
    async (next) => {
      for (const [tp, n] of next) {
        const topic = tp.slice(0, tp.lastIndexOf("/"));
        await groupOffsets.commit(config.group, topic, new Map([[0, n]]));
      }
    },
    opts.io,
  );
  for (;;) {
    if (opts.signal?.aborted) return;
    const records = await source.poll(config.batch.maxEvents);
    if (!records.length) {
      if (!opts.follow) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    await applier.apply(records);
  }
}
