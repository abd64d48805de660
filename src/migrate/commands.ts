// `changecast migrate …`: the dual-publish lifecycle plan → start → [backfill] → switch (per group) → status →
// cutover → finish | abort. Every step reads the state first and is a no-op when already done, so any step can
// be re-run after a crash.
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { loadPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { ConfigError } from "../config/yaml-source.js";
import type { CommandIO } from "../command-io.js";
import { TransformSet } from "../map/mapper.js";
import type { EventDeclaration } from "../map/transform-file.js";
import { consumerTiming, kafkaClientConfig } from "../kafka/kafka-client.js";
import { checkCompatibility } from "../schemas/compat.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { subjectName } from "../schemas/subject-name.js";
import { openStateStore, type StateStore } from "../state/store.js";
import { acquireStateLock, StateLockedError, type StateLock } from "../state/writer-lock.js";
import { loadTransforms, openRegistry, registerEventSchemas } from "../worker/pipeline-setup.js";
import { backfillEmbedded, type BackfillProgress } from "./backfill.js";
import { backfillKafka } from "./kafka-backfill.js";
import { activeMajors, MIGRATIONS_POLL_MS } from "./majors.js";
import { MigrationStore, type Migration } from "./state.js";
import { computeSwitch, describeSwitch, type SwitchPlan, type SwitchTypes } from "./switch.js";
import {
  EmbeddedTopicAccess,
  GroupBusyError,
  GroupMovedError,
  KafkaTopicAccess,
  type TopicAccess,
} from "./topics.js";
import { ChangecastError } from "../errors.js";

export interface MigrateOptions {
  config: string;
  event: string;
  /** target major (default: the next declared major above the current one) */
  to?: number;
  group?: string;
  force?: boolean;
  from?: string;
  filterFile?: string;
  skipBackfill?: boolean;
}

/** Everything a migrate step needs, opened once. */
interface Context {
  config: PipelineConfig;
  transforms: TransformSet;
  store: StateStore;
  migrations: MigrationStore;
  registry: SchemaRegistry;
  event: string;
  current: number;
  target: number;
  /** null once a finished migration's old major is no longer declared (the declaration was collapsed) */
  oldDecl: EventDeclaration | null;
  newDecl: EventDeclaration;
  oldTopic: string;
  newTopic: string;
  /** the event's ce_type on each topic: only these records are the migrated event's facts */
  types: SwitchTypes;
  oldSubject: string;
  newSubject: string;
  /** the migration row for (event, target), if any */
  row: Migration | null;
  topics(): Promise<TopicAccess>;
}

export class MigrateError extends ChangecastError {
  readonly code = "MIGRATE_REFUSED";
  override readonly name = "MigrateError";
}

async function openContext(opts: MigrateOptions): Promise<Context & { close(): Promise<void> }> {
  const config = loadPipelineConfig(opts.config);
  const { transforms, problems } = loadTransforms(config);
  if (problems.length) throw new ConfigError(problems);
  const { declared, majors } = declaredMajors(transforms, opts.event);
  const store = await openStateStore(config.state, config.baseDir);
  let access: TopicAccess | null = null;
  let registry: SchemaRegistry | null = null;
  try {
    const migrations = await MigrationStore.open(store.knex, config.pipeline);
    const rows = await migrations.migrations(opts.event);
    const migration = resolveMigration(opts, declared, majors, rows);
    registry = await openRegistry(config, store);
    const strategy = config.registry.subjectNameStrategy;
    const reg = registry;
    return {
      config,
      transforms,
      store,
      migrations,
      registry,
      event: opts.event,
      ...migration,
      oldSubject: subjectName(strategy, migration.oldTopic, migration.types.old),
      newSubject: subjectName(strategy, migration.newTopic, migration.types.new),
      topics: async () => {
        access ??= await openTopicAccess(config, store);
        return access;
      },
      close: async () => {
        await access?.close();
        await reg.close?.();
        await store.close();
      },
    };
  } catch (err) {
    await registry?.close?.();
    await store.close();
    throw err;
  }
}

/** The declarations of `event` (one per major) and their majors, ascending. */
function declaredMajors(
  transforms: TransformSet,
  event: string,
): { declared: EventDeclaration[]; majors: number[] } {
  const declared = transforms.declarations.filter((d) => d.name === event);
  if (!declared.length) {
    const names = [...new Set(transforms.declarations.map((d) => d.name))].join(", ");
    throw new MigrateError(`no event "${event}" in the transform files (events: ${names})`);
  }
  const majors = [...new Set(declared.map((d) => d.major ?? 1))].sort((a, b) => a - b);
  return { declared, majors };
}

/** The migration a command addresses: from which major to which, its row, declarations, topics and types. */
function resolveMigration(
  opts: MigrateOptions,
  declared: EventDeclaration[],
  majors: number[],
  rows: Migration[],
): Pick<Context, "current" | "target" | "oldDecl" | "newDecl" | "oldTopic" | "newTopic" | "types" | "row"> {
  const published =
    [
      ...activeMajors(
        majors[0] ?? 1,
        rows.filter((r) => r.status === "finished"),
      ),
    ][0] ?? 1;
  const inProgress = rows.find((r) => r.status === "started" || r.status === "cutover");
  const lastFinished = rows.filter((r) => r.status === "finished").at(-1);
  // re-running a step of a finished migration addresses that migration
  const target = opts.to ?? inProgress?.toMajor ?? majors.find((m) => m > published) ?? lastFinished?.toMajor;
  const current = rows.find((r) => r.toMajor === target)?.fromMajor ?? published;
  if (target === undefined) {
    throw new MigrateError(
      `${opts.event}: no major above ${current} is declared; add one under \`majors:\` in ${declared[0]?.file ?? "its transform file"}`,
    );
  }
  const row = rows.find((r) => r.toMajor === target) ?? null;
  const oldDecl = declared.find((d) => (d.major ?? 1) === current) ?? null;
  const newDecl = declared.find((d) => (d.major ?? 1) === target);
  // after `finish` the old major may go from the transform file (the docs' collapsed declaration): the
  // migration row still knows its topic and type
  const oldGone = !oldDecl && row?.status === "finished";
  if ((!oldDecl && !oldGone) || !newDecl) {
    throw new MigrateError(
      `${opts.event}: major ${!newDecl ? target : current} is not declared (declared: ${majors.join(", ")})`,
    );
  }
  // what workers publish (the declarations) while in progress; what it was, once finished
  const finished = row?.status === "finished" ? row : null;
  const oldTopic = finished?.oldTopic ?? (oldDecl as EventDeclaration).topic;
  const newTopic = finished?.newTopic ?? newDecl.topic;
  const types: SwitchTypes = {
    old: (finished?.oldType || oldDecl?.schema.fullName) ?? newDecl.schema.fullName,
    new: finished?.newType || newDecl.schema.fullName,
  };
  return { current, target, oldDecl, newDecl, oldTopic, newTopic, types, row };
}

/** The event topics as `migrate` reads them: Kafka when brokers are configured, else the embedded output. */
async function openTopicAccess(config: PipelineConfig, store: StateStore): Promise<TopicAccess> {
  return config.kafka.brokers.length > 0
    ? await KafkaTopicAccess.open(
        kafkaClientConfig({
          brokers: config.kafka.brokers,
          clientId: `${config.kafka.clientId}-migrate-${hostname()}`,
          env: process.env,
        }),
        // the member `migrate switch` joins a group with (KAFKA_SESSION_TIMEOUT_MS, …)
        consumerTiming(process.env),
      )
    : await EmbeddedTopicAccess.open(store.knex, config.pipeline, config.outputDir);
}

export type MigrateAction =
  "plan" | "start" | "backfill" | "status" | "cutover" | "finish" | "abort" | "switch" | "register-consumer";

export async function migrateCommand(
  action: MigrateAction,
  opts: MigrateOptions,
  io: CommandIO,
): Promise<number> {
  let ctx: Awaited<ReturnType<typeof openContext>>;
  try {
    ctx = await openContext(opts);
  } catch (err) {
    if (err instanceof MigrateError) {
      io.err(`changecast migrate ${action}: ${err.message}`);
      return 1;
    }
    throw err;
  }
  try {
    switch (action) {
      case "plan":
        return await plan(ctx, io);
      case "start":
        return await start(ctx, io);
      case "backfill":
        return await backfill(ctx, opts, io);
      case "status":
        return await status(ctx, io);
      case "cutover":
        return await cutover(ctx, opts, io);
      case "finish":
        return await finish(ctx, opts, io);
      case "abort":
        return await abort(ctx, opts, io);
      case "switch":
        return await switchGroup(ctx, opts, io);
      case "register-consumer":
        return await registerConsumer(ctx, opts, io);
    }
  } catch (err) {
    if (err instanceof MigrateError) {
      io.err(`changecast migrate ${action}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await ctx.close();
  }
}

const label = (ctx: Context) => `${ctx.event} major ${ctx.current} → ${ctx.target}`;

async function plan(ctx: Context, io: CommandIO): Promise<number> {
  const { registry, oldDecl, newDecl } = ctx;
  io.out(`migration plan: ${label(ctx)}`);
  io.out(
    `  old: topic ${ctx.oldTopic}, subject ${ctx.oldSubject} (${oldDecl ? rel(ctx, oldDecl.schemaFile) : `major ${ctx.current} no longer declared`})`,
  );
  const sharing = sharedWith(ctx);
  if (sharing.length) {
    io.out(`  ${ctx.oldTopic} is shared with ${sharing.join(", ")}:`);
    io.out(
      `    only ${ctx.types.old} records count; switched groups keep consuming ${ctx.oldTopic} for the others (the switch filter drops ${ctx.event} there)`,
    );
  }
  const registered = await registry.lookup(ctx.newSubject, newDecl.schema.canonical);
  const latestNew = await registry.latest(ctx.newSubject);
  const newState = registered
    ? `registered as version ${registered.version}`
    : latestNew
      ? `subject exists (version ${latestNew.version})`
      : "new subject";
  io.out(
    `  new: topic ${ctx.newTopic}, subject ${ctx.newSubject} (${rel(ctx, newDecl.schemaFile)}) — ${newState}`,
  );
  if (ctx.newSubject === ctx.oldSubject) {
    io.out(
      `  PROBLEM: both majors map to subject ${ctx.oldSubject} under ${ctx.config.registry.subjectNameStrategy}; give major ${ctx.target} ` +
        `its own record namespace (e.g. ${ctx.types.old.replace(/\.([^.]+)$/, `.v${ctx.target}.$1`)})`,
    );
  }
  const previous = await registry.versions(ctx.oldSubject);
  const level = previous.length
    ? await registry.compatibility(ctx.oldSubject)
    : ctx.config.registry.compatibility;
  const against = previous.length ? previous.map((v) => v.schema) : oldDecl ? [oldDecl.schema.canonical] : [];
  const verdict = against.length ? checkCompatibility(level, newDecl.schema.canonical, against) : null;
  if (!verdict) {
    io.out(
      `  compatibility with ${ctx.oldSubject}: not known (no versions registered, major ${ctx.current} not declared)`,
    );
  } else if (verdict.isCompatible) {
    io.out(
      `  compatibility with ${ctx.oldSubject} under ${level}: compatible — a new version of the existing subject would do; a migration is optional`,
    );
  } else {
    io.out(`  compatibility with ${ctx.oldSubject} under ${level}: INCOMPATIBLE`);
    for (const m of verdict.messages) io.out(`    - ${m}`);
  }
  const groups = await ctx.migrations.groups(ctx.event);
  io.out(
    groups.length
      ? `  consumer groups: ${groups.map((g) => `${g.group}${g.switchedTo ? ` (switched to ${g.switchedTo})` : ""}`).join(", ")}`
      : `  consumer groups: none registered (changecast migrate register-consumer --event ${ctx.event} --group G)`,
  );
  io.out(`  state: ${ctx.row ? `${ctx.row.status}, backfill ${ctx.row.backfill}` : "not started"}`);
  if (!ctx.row || ctx.row.status === "aborted") io.out(`next: changecast migrate start --event ${ctx.event}`);
  return 0;
}

async function start(ctx: Context, io: CommandIO): Promise<number> {
  const row = ctx.row;
  if (row && (row.status === "started" || row.status === "cutover")) {
    io.out(`${label(ctx)}: already started at ${row.startedAt} (nothing to do)`);
    return 0;
  }
  if (row?.status === "finished") {
    io.out(`${label(ctx)}: already finished (nothing to do)`);
    return 0;
  }
  const others = (await ctx.migrations.migrations(ctx.event)).filter(
    (m) => (m.status === "started" || m.status === "cutover") && m.toMajor !== ctx.target,
  );
  if (others[0])
    throw new MigrateError(
      `${ctx.event}: the migration to major ${others[0].toMajor} is in progress; finish or abort it first`,
    );
  if (ctx.newSubject === ctx.oldSubject) {
    throw new MigrateError(`both majors map to subject ${ctx.oldSubject}; see \`changecast migrate plan\``);
  }
  const problem = topicProblem(ctx);
  if (problem) throw new MigrateError(problem);
  // register first: a schema the registry refuses must stop the start, not the workers
  const only = new TransformSet(
    ctx.transforms.files.map((f) => ({
      ...f,
      events: f.events.filter((d) => d.name === ctx.event && (d.major ?? 1) === ctx.target),
    })),
  );
  const registrations = await registerEventSchemas(ctx.config, only, ctx.registry);
  const reg = registrations.get(ctx.newDecl);
  await ctx.migrations.save({
    pipeline: ctx.config.pipeline,
    event: ctx.event,
    fromMajor: ctx.current,
    toMajor: ctx.target,
    oldTopic: ctx.oldTopic,
    newTopic: ctx.newTopic,
    newSubject: ctx.newSubject,
    oldType: ctx.types.old,
    newType: ctx.types.new,
    status: "started",
    backfill: "none",
    backfillProgress: "",
    startedAt: new Date().toISOString(),
  });
  io.out(`${label(ctx)}: started${row?.status === "aborted" ? " (again, after an abort)" : ""}`);
  io.out(`  ${ctx.newSubject} version ${reg?.version ?? "?"} (schema id ${reg?.id ?? "?"})`);
  io.out(
    `  workers now publish both ${ctx.oldTopic} and ${ctx.newTopic} for every change, with the same ce_id`,
  );
  // embedded and Kafka workers alike re-read the migration state while they run (watchMigrations)
  io.out(
    `  running workers pick this up within ${MIGRATIONS_POLL_MS / 1000} s; workers started later read it at start`,
  );
  io.out(
    `  history before now is only on ${ctx.oldTopic}: \`changecast migrate backfill --event ${ctx.event}\` re-derives it`,
  );
  return 0;
}

function requireInProgress(ctx: Context, step: string): Migration {
  const row = ctx.row;
  if (!row || row.status === "aborted")
    throw new MigrateError(`${label(ctx)} is not started; \`migrate ${step}\` needs \`migrate start\` first`);
  return row;
}

async function backfill(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  const row = requireInProgress(ctx, "backfill");
  if (row.status === "finished") throw new MigrateError(`${label(ctx)} is finished; nothing to backfill`);
  // backfilled history lands after the live tail: a group already switched would meet those facts again
  const switched = (await ctx.migrations.groups(ctx.event)).filter((g) => g.switchedTo === ctx.target);
  if (switched.length) {
    throw new MigrateError(
      `groups already switched to ${ctx.newTopic} (${switched.map((g) => g.group).join(", ")}) would receive the backfilled facts; backfill before switching`,
    );
  }
  // one writer per state store: a backfill appending to the new topic while a worker publishes corrupts it
  // (embedded: both append to one output file), so it runs alone — workers hold the lock shared or exclusive
  let lock: StateLock;
  try {
    lock = await acquireStateLock(ctx.store, {
      mode: "exclusive",
      command: "migrate backfill",
      scope: ctx.config.pipeline,
    });
  } catch (err) {
    if (err instanceof StateLockedError)
      throw new MigrateError(
        `${err.message} (stop the workers of pipeline ${ctx.config.pipeline} for the backfill)`,
      );
    throw err;
  }
  try {
    return await backfillLocked(ctx, row, opts, io);
  } finally {
    await lock.release();
  }
}

async function backfillLocked(
  ctx: Context,
  row: Migration,
  opts: MigrateOptions,
  io: CommandIO,
): Promise<number> {
  await ctx.migrations.save({ ...row, backfill: "running" });
  const onProgress = (p: BackfillProgress) => {
    const pct = p.total ? Math.floor((p.read / p.total) * 100) : 100;
    io.out(
      `backfill: ${p.read}/${p.total} source records (${pct}%), ${p.published} published, ${p.alreadyPresent} already on ${ctx.newTopic}, ETA ${p.etaSeconds ?? "?"} s`,
    );
  };
  const common = {
    config: ctx.config,
    registry: ctx.registry,
    transforms: ctx.transforms,
    event: ctx.event,
    major: ctx.target,
    ...(opts.from ? { from: opts.from } : {}),
    onProgress,
  };
  const access = ctx.config.kafka.brokers.length ? await ctx.topics() : null;
  const result = access
    ? await backfillKafka({
        ...common,
        client: kafkaClientConfig({
          brokers: ctx.config.kafka.brokers,
          clientId: `${ctx.config.kafka.clientId}-migrate-${hostname()}`,
          env: process.env,
        }),
        access,
        timing: consumerTiming(process.env),
        onNote: (line) => io.out(`  ${line}`),
      })
    : await backfillEmbedded({ ...common, store: ctx.store, onNote: (line) => io.out(`  ${line}`) });
  const summary =
    `${result.read} source records read, ${result.published} facts published, ${result.alreadyPresent} already present, ${result.failed} not mappable` +
    (opts.from ? ` (from position ${opts.from}: earlier history not re-derived)` : "");
  await ctx.migrations.save({
    ...row,
    backfill: result.done ? "done" : "running",
    backfillProgress: summary,
  });
  io.out(`backfill ${result.done ? "done" : "interrupted"}: ${summary}`);
  return result.done ? 0 : 1;
}

interface GroupLine {
  group: string;
  oldPosition: bigint | null;
  oldLag: bigint | null;
  newPosition: bigint | null;
  newLag: bigint | null;
  switched: string;
}

async function status(ctx: Context, io: CommandIO): Promise<number> {
  const row = ctx.row;
  io.out(
    `${label(ctx)}: ${row ? `${row.status} (since ${row.startedAt}), backfill ${row.backfill}${row.backfillProgress ? ` — ${row.backfillProgress}` : ""}` : "not started"}`,
  );
  const access = await ctx.topics();
  const oldEnd = await safeEnds(access, ctx.oldTopic);
  const newEnd = await safeEnds(access, ctx.newTopic);
  io.out(`  old ${ctx.oldTopic}: end ${sum(oldEnd) ?? "-"} · new ${ctx.newTopic}: end ${sum(newEnd) ?? "-"}`);
  const lines: GroupLine[] = [];
  for (const g of await ctx.migrations.groups(ctx.event)) {
    const o = await access.fetchGroup(g.group, ctx.oldTopic);
    const n = await access.fetchGroup(g.group, ctx.newTopic);
    lines.push({
      group: g.group,
      oldPosition: o.size ? sum(o) : null,
      oldLag: o.size && oldEnd ? lag(oldEnd, o) : null,
      newPosition: n.size ? sum(n) : null,
      newLag: n.size && newEnd ? lag(newEnd, n) : null,
      switched: g.switchedTo
        ? `yes (${g.switchCase}${g.skipIds.length ? `, ${g.skipIds.length} to skip` : ""})`
        : "no",
    });
  }
  if (!lines.length)
    io.out(
      `  no consumer groups registered (changecast migrate register-consumer --event ${ctx.event} --group G)`,
    );
  else {
    const w = Math.max(5, ...lines.map((l) => l.group.length));
    io.out(`  ${"group".padEnd(w)}  old position  old lag  new position  new lag  switched`);
    const c = (v: bigint | null, n: number) => (v === null ? "-" : v.toString()).padEnd(n);
    for (const l of lines)
      io.out(
        `  ${l.group.padEnd(w)}  ${c(l.oldPosition, 12)}  ${c(l.oldLag, 7)}  ${c(l.newPosition, 12)}  ${c(l.newLag, 7)}  ${l.switched}`,
      );
  }
  return 0;
}

async function safeEnds(access: TopicAccess, topic: string): Promise<Map<number, bigint> | null> {
  try {
    return await access.endOffsets(topic);
  } catch {
    return null;
  }
}
function sum(m: Map<number, bigint> | null): bigint | null {
  return m ? [...m.values()].reduce((a, b) => a + b, 0n) : null;
}
function lag(end: Map<number, bigint>, committed: Map<number, bigint>): bigint {
  let total = 0n;
  for (const [p, e] of end) total += e - (committed.get(p) ?? 0n);
  return total;
}

/** The event's facts on the old topic, and those of them the new topic does not carry (by ce_id). */
async function missingOnNew(ctx: Context): Promise<{ facts: number; missing: SwitchPlan["missing"] }> {
  const access = await ctx.topics();
  // a group that processed nothing: every fact of the event on the old topic is pending
  const plan = computeSwitch(
    await access.snapshot(ctx.oldTopic),
    await access.snapshot(ctx.newTopic),
    new Map(),
    ctx.types,
  );
  return { facts: plan.pending, missing: plan.missing };
}

async function cutover(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  const row = requireInProgress(ctx, "cutover");
  if (row.status === "finished") {
    io.out(`${label(ctx)}: already finished`);
    return 0;
  }
  const problem = topicProblem(ctx);
  if (problem) throw new MigrateError(problem);
  const problems: string[] = [];
  const groups = await ctx.migrations.groups(ctx.event);
  // checked every time, whatever the backfill recorded: a backfill --from, or changes a worker published on
  // the old topic alone before it noticed the start, leave facts that only the old major has
  const { facts, missing } = await missingOnNew(ctx);
  const what = `${ctx.types.old} facts`;
  const backfillNote =
    row.backfill === "none"
      ? ""
      : ` (backfill ${row.backfill}${row.backfillProgress ? `: ${row.backfillProgress}` : ""})`;
  if (missing.length === 0)
    io.out(
      `  history: all ${facts} ${what} on ${ctx.oldTopic} are on ${ctx.newTopic} (by ce_id)${backfillNote}`,
    );
  else if (opts.skipBackfill)
    io.out(
      `  history: --skip-backfill: ${missing.length} of ${facts} ${what} stay only on ${ctx.oldTopic} (first at position ${missing[0]?.position ?? "?"})`,
    );
  else {
    const switched = groups.some((g) => g.switchedTo === ctx.target);
    problems.push(
      `history: ${missing.length} of ${facts} ${what} on ${ctx.oldTopic} are not on ${ctx.newTopic} (first at position ${missing[0]?.position ?? "?"})${backfillNote}; ` +
        (switched
          ? "groups have switched, so backfill refuses: --skip-backfill accepts that they stay on the old topic only"
          : "run `migrate backfill` (without --from), or --skip-backfill"),
    );
  }
  if (!groups.length)
    io.out("  consumer groups: none registered — make sure nobody else consumes the old topic");
  for (const g of groups) {
    if (g.switchedTo === ctx.target) io.out(`  group ${g.group}: switched (${g.switchCase})`);
    else
      problems.push(
        `group ${g.group}: not switched (stop it, then \`migrate switch --event ${ctx.event} --group ${g.group}\`)`,
      );
  }
  for (const p of problems) io.out(`  NOT READY ${p}`);
  if (problems.length) {
    io.out(`${label(ctx)}: not ready for cutover`);
    return 1;
  }
  if (row.status !== "cutover") await ctx.migrations.save({ ...row, status: "cutover" });
  io.out(
    `${label(ctx)}: ready — cut over; \`changecast migrate finish --event ${ctx.event}\` stops publishing major ${ctx.current}`,
  );
  return 0;
}

async function finish(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  const row = requireInProgress(ctx, "finish");
  if (row.status === "finished") {
    io.out(`${label(ctx)}: already finished (nothing to do)`);
    return 0;
  }
  if (row.status !== "cutover" && !opts.force)
    throw new MigrateError(`${label(ctx)}: run \`migrate cutover\` first (or --force)`);
  if (!opts.force) {
    // a group registered after the cutover would be left on an old major that is no longer published
    const unswitched = (await ctx.migrations.groups(ctx.event)).filter((g) => g.switchedTo !== ctx.target);
    if (unswitched.length)
      throw new MigrateError(
        `${label(ctx)}: ${unswitched.map((g) => `group ${g.group}`).join(", ")} registered but not switched; switch ${unswitched.length > 1 ? "them" : "it"} (\`migrate switch --event ${ctx.event} --group G\`) or --force`,
      );
  }
  await ctx.migrations.save({ ...row, status: "finished" });
  io.out(
    `${label(ctx)}: finished — major ${ctx.current} is no longer published; ${ctx.oldTopic} and its subject stay as they are`,
  );
  return 0;
}

async function abort(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  const row = ctx.row;
  if (!row || row.status === "aborted") {
    io.out(`${label(ctx)}: not in progress (nothing to do)`);
    return 0;
  }
  if (row.status === "finished") throw new MigrateError(`${label(ctx)} is finished; it cannot be aborted`);
  const switched = (await ctx.migrations.groups(ctx.event)).filter((g) => g.switchedTo === ctx.target);
  if (switched.length && !opts.force) {
    throw new MigrateError(
      `groups already consume ${ctx.newTopic}: ${switched.map((g) => g.group).join(", ")} (--force to abort anyway)`,
    );
  }
  await ctx.migrations.save({ ...row, status: "aborted" });
  io.out(
    `${label(ctx)}: aborted — ${ctx.newTopic} is no longer published (it keeps what it has); ${ctx.oldTopic} is untouched`,
  );
  return 0;
}

async function registerConsumer(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  if (!opts.group) throw new MigrateError("--group is required");
  await ctx.migrations.registerGroup(ctx.event, opts.group);
  io.out(`group ${opts.group} registered for ${ctx.event}`);
  return 0;
}

async function switchGroup(ctx: Context, opts: MigrateOptions, io: CommandIO): Promise<number> {
  if (!opts.group) throw new MigrateError("--group is required");
  requireInProgress(ctx, "switch");
  const group = opts.group;
  const known = (await ctx.migrations.groups(ctx.event)).find((g) => g.group === group);
  if (known?.switchedTo === ctx.target && !opts.force) {
    io.out(
      `group ${group} already switched to ${ctx.newTopic} at ${known.switchedAt} (${known.switchCase}); offsets left as they are`,
    );
    return 0;
  }
  const access = await ctx.topics();
  if (access.mode === "kafka") await requireStoppedGroup(access, group, io);
  const problem = topicProblem(ctx);
  if (problem) throw new MigrateError(problem);
  const plan = await planSwitch(access, ctx.oldTopic, ctx.newTopic, group, ctx.types);
  for (const line of describeSwitch(plan)) io.out(line);
  if (plan.case === "blocked") return 1;
  // offsets first, then the switched mark: a crash in between re-runs to the same offsets
  await commitSwitch(ctx, access, group, plan, io);
  await ctx.migrations.markSwitched(ctx.event, group, ctx.target, plan.case, plan.skipIds);
  if (opts.filterFile) writeSwitchFilter(ctx, group, plan, opts.filterFile, io);
  io.out(
    `group ${group} switched: committed offsets on ${ctx.newTopic}; start its ${ctx.newTopic} consumer${plan.case === "filter" ? " with the switch filter (createSwitchFilter / loadSwitchFilter)" : ""}`,
  );
  if (plan.otherOnOld > 0)
    io.out(
      `  and keep its ${ctx.oldTopic} consumer for the other event types, dropping ${ctx.types.old} records there (loadSwitchFilter: accept(headers, topic))`,
    );
  return 0;
}

/** Fail fast where the broker can tell that the group has active members; where it cannot, commitGroup finds out when it joins the group. */
async function requireStoppedGroup(access: TopicAccess, group: string, io: CommandIO): Promise<void> {
  const activity = await access.describeGroup(group);
  if (activity.state === "active")
    throw new MigrateError(
      `group ${group} has active members (${activity.detail}: ${activity.members.join(", ")}); stop its consumers first`,
    );
  io.out(
    activity.state === "empty"
      ? `group ${group}: no active members (${activity.detail})`
      : `group ${group}: membership not known yet (${activity.detail}); checked when joining the group to commit`,
  );
}

/** Commits the group's start offsets on the new topic, only if its offsets on the old topic are still those the plan rests on. */
async function commitSwitch(
  ctx: Context,
  access: TopicAccess,
  group: string,
  plan: SwitchPlan,
  io: CommandIO,
): Promise<void> {
  try {
    const how = await access.commitGroup(
      group,
      ctx.newTopic,
      new Map(plan.starts.map((s) => [s.partition, s.offset])),
      { topic: ctx.oldTopic, offsets: plan.committed },
    );
    io.out(`offsets ${how}`);
  } catch (err) {
    if (err instanceof GroupBusyError || err instanceof GroupMovedError)
      throw new MigrateError(`group ${group} not switched: ${err.message}`);
    throw err;
  }
}

/** The switch filter file (createSwitchFilter / loadSwitchFilter) of a switched group. */
function writeSwitchFilter(ctx: Context, group: string, plan: SwitchPlan, file: string, io: CommandIO): void {
  writeFileSync(
    file,
    JSON.stringify(
      {
        event: ctx.event,
        group,
        topic: ctx.newTopic,
        skipIds: plan.skipIds,
        // a shared old topic: the group goes on reading it for the other types, dropping this one
        ...(plan.otherOnOld > 0 ? { oldTopic: ctx.oldTopic, oldType: ctx.types.old } : {}),
      },
      null,
      2,
    ) + "\n",
  );
  io.out(`switch filter written to ${file}`);
}

/** The switch-over for a stopped group: snapshots of both topics and its committed offsets on the old one. */
export async function planSwitch(
  access: TopicAccess,
  oldTopic: string,
  newTopic: string,
  group: string,
  types?: SwitchTypes,
): Promise<SwitchPlan> {
  const committed = await access.fetchGroup(group, oldTopic);
  // the old topic first: a fact published to both after this read is on the new topic too, never lost
  const old = await access.snapshot(oldTopic);
  const neu = await access.snapshot(newTopic);
  return computeSwitch(old, neu, committed, types);
}

/** Other events (or majors) published to the old topic: a shared topic, e.g. one topic per aggregate. */
function sharedWith(ctx: Context): string[] {
  const names = ctx.transforms.declarations
    .filter((d) => d.topic === ctx.oldTopic && !(d.name === ctx.event && (d.major ?? 1) === ctx.current))
    .map((d) => (d.name === ctx.event ? `${d.name} major ${d.major ?? 1}` : d.name));
  return [...new Set(names)];
}

/**
 * Why this event's facts cannot be told apart from other records by ce_type (null: they can). On the old topic
 * another event with the same record full name would count as this event; the new topic must carry only the
 * new major.
 */
function topicProblem(ctx: Context): string | null {
  const others = ctx.transforms.declarations.filter(
    (d) => !(d.name === ctx.event && [ctx.current, ctx.target].includes(d.major ?? 1)),
  );
  const clash = others.find((d) => d.topic === ctx.oldTopic && d.schema.fullName === ctx.types.old);
  if (clash)
    return `${clash.name} is published to ${ctx.oldTopic} with the same record type ${ctx.types.old} (ce_type): its records cannot be told apart from ${ctx.event}'s; give one of them its own record name`;
  const onNew = others.find((d) => d.topic === ctx.newTopic);
  if (onNew)
    return `${onNew.name}${onNew.name === ctx.event ? ` major ${onNew.major ?? 1}` : ""} is published to ${ctx.newTopic} too; major ${ctx.target} of ${ctx.event} needs a topic of its own`;
  return null;
}

function rel(ctx: Context, file: string): string {
  return file.startsWith(ctx.config.baseDir + "/") ? file.slice(ctx.config.baseDir.length + 1) : file;
}
