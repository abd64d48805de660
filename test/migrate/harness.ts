// A migration project in a temp dir (the worked example of docs/migration.md on synthetic customer inserts),
// the CLI in-process and as a child process, and a reference consumer group on the embedded output files.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandIO } from "../../src/cli/io.js";
import { migrateCommand, type MigrateAction, type MigrateOptions } from "../../src/migrate/commands.js";
import { EmbeddedGroupOffsets } from "../../src/migrate/state.js";
import { createSwitchFilter, type SwitchFilter } from "../../src/migrate/switch.js";
import { readEmbeddedTopic } from "../../src/migrate/topics.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";

export const ROOT = join(import.meta.dirname, "..", "..");
// one process (tsx loader in-process): kill -9 must kill the worker itself, not a wrapper that leaves it orphaned
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
export const V1 = "inventory.customer-events";
export const V2 = "inventory.customer-events.v2";
export const EVENT = "CustomerRegistered";

export const TRANSFORM = `table: inventory.customers
events:
  - name: CustomerRegistered
    schema: schemas/customer/CustomerRegistered.avsc
    topic: ${V1}
    when: op == "c" || op == "r"
    key: after.id
    fields:
      customerId: after.id
      email: after.email
      firstName: after.first_name
      lastName: after.last_name
      fullName: after.first_name + " " + after.last_name
      registeredAt: source.ts_ms
    majors:
      2:
        schema: schemas/customer/v2/CustomerRegistered.avsc
        fields:
          customerId: string(after.id)
          email: after.email
          firstName: after.first_name
          lastName: after.last_name
          registeredAt: source.ts_ms
  - name: CustomerEmailChanged
    schema: schemas/customer/CustomerEmailChanged.avsc
    topic: ${V1}
    when: op == "u" && before != null && before.email != after.email
    key: after.id
    fields:
      customerId: after.id
      previousEmail: before.email
      email: after.email
      changedAt: source.ts_ms
`;

export interface Project {
  dir: string;
  config: string;
  source: string;
}

/** A migration project; with `brokers`, a Kafka-mode one (source.files unused). */
export function migrationProject(
  opts: { brokers?: string; delivery?: "exactly-once" | "at-least-once" } = {},
): Project {
  const dir = mkdtempSync(join(tmpdir(), "changecast-migrate-"));
  mkdirSync(join(dir, "transforms"));
  mkdirSync(join(dir, "source"));
  cpSync(join(ROOT, "schemas", "customer"), join(dir, "schemas", "customer"), { recursive: true });
  writeFileSync(join(dir, "transforms", "customers.yaml"), TRANSFORM);
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: inventory",
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      "  files: [source/customers.jsonl]",
      "kafka:",
      `  brokers: '${opts.brokers ?? ""}'`,
      "registry:",
      "  url: ''",
      "  compatibility: BACKWARD",
      "  subjectNameStrategy: TopicRecordNameStrategy",
      "state: sqlite:.changecast/state.sqlite",
      `delivery: ${opts.delivery ?? "exactly-once"}`,
      "errors:",
      "  tolerance: all",
      "  deadLetterTopic: changecast.inventory.dlq",
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  const source = join(dir, "source", "customers.jsonl");
  writeFileSync(source, "");
  return { dir, config, source };
}

const BASE_TS = 1_710_500_000_000;
const BASE_LSN = 40_000_000;

/** The Debezium insert of customer `id` (JsonConverter without schemas): key, value and timestamp. */
export function insertRecord(id: number): { key: string; value: string; ts: number } {
  const lsn = BASE_LSN + id * 100;
  const ts = BASE_TS + id * 10;
  const payload = {
    before: null,
    after: { id, first_name: `First${id}`, last_name: `Last${id}`, email: `c${id}@example.com` },
    source: {
      version: "3.6.1.Final",
      connector: "postgresql",
      name: "dbserver1",
      ts_ms: ts,
      snapshot: "false",
      db: "postgres",
      sequence: JSON.stringify([String(lsn - 50), String(lsn)]),
      schema: "inventory",
      table: "customers",
      txId: 1000 + id,
      lsn,
    },
    transaction: null,
    op: "c",
    ts_ms: ts + 5,
  };
  return { key: JSON.stringify({ id }), value: JSON.stringify(payload), ts: ts + 5 };
}

/** Appends Debezium inserts of customers `from`..`from+count-1` (one transaction each, increasing LSNs). */
export function appendInserts(project: Project, from: number, count: number): void {
  const lines: string[] = [];
  for (let id = from; id < from + count; id++) {
    const r = insertRecord(id);
    lines.push(
      JSON.stringify({
        topic: "dbserver1.inventory.customers",
        partition: 0,
        offset: id,
        ts: r.ts,
        headers: [],
        key: r.key,
        payload: r.value,
      }),
    );
  }
  appendFileSync(project.source, lines.join("\n") + "\n");
}

export interface Captured {
  code: number;
  out: string;
  err: string;
}

export async function migrate(
  project: Project,
  action: MigrateAction,
  opts: Partial<MigrateOptions> = {},
): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await migrateCommand(action, { config: project.config, event: EVENT, ...opts }, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const ENV = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

/** `changecast run` as a child process, to completion. */
export function runWorker(project: Project, ...args: string[]): Captured {
  const r = spawnSync(process.execPath, [...CLI, "run", "--config", project.config, ...args], {
    encoding: "utf8",
    env: ENV,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** `changecast run` in the background. */
export function spawnWorker(project: Project, ...args: string[]): ChildProcess {
  return spawn(process.execPath, [...CLI, "run", "--config", project.config, ...args], {
    env: ENV,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode);
    else child.once("exit", (code) => done(code));
  });
}

export async function withStore<T>(project: Project, use: (store: StateStore) => Promise<T>): Promise<T> {
  const store = await openStateStore("sqlite:.changecast/state.sqlite", project.dir);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

export interface Fact {
  ceId: string;
  customerId: string;
  topic: string;
}

export async function topicRecords(project: Project, topic: string) {
  return withStore(project, (store) =>
    readEmbeddedTopic(store.knex, "inventory", join(project.dir, ".changecast", "out"), topic),
  );
}

type EmbeddedRecord = Awaited<ReturnType<typeof readEmbeddedTopic>>[number];

/**
 * A reference consumer group on the embedded topics: turns records into facts, commits its offset after each
 * poll, like a Kafka consumer with manual commits. It never deduplicates: a fact processed twice shows up twice
 * in `processed`.
 */
abstract class EmbeddedConsumer<F> {
  readonly processed: F[] = [];
  filter: SwitchFilter = createSwitchFilter([]);
  constructor(
    readonly project: Project,
    readonly group: string,
  ) {}

  /** The fact of one record, or null to pass over it. */
  protected abstract toFact(record: EmbeddedRecord, topic: string): F | null;

  /** Processes up to `max` records from the group's committed offset; returns how many were read. */
  async poll(topic: string, max = Number.MAX_SAFE_INTEGER): Promise<number> {
    return withStore(this.project, async (store) => {
      const offsets = await EmbeddedGroupOffsets.open(store.knex);
      const next = (await offsets.fetch(this.group, topic)).get(0) ?? 0n;
      const out = join(this.project.dir, ".changecast", "out");
      const records = (await readEmbeddedTopic(store.knex, "inventory", out, topic, next)).slice(0, max);
      for (const r of records) {
        const fact = this.toFact(r, topic);
        if (fact !== null) this.processed.push(fact);
      }
      if (records.length)
        await offsets.commit(this.group, topic, new Map([[0, next + BigInt(records.length)]]));
      return records.length;
    });
  }
}

/** The reference consumer of the migrated event (CustomerRegistered): ce_id and customer id of each fact. */
export class ReferenceConsumer extends EmbeddedConsumer<Fact> {
  protected toFact(r: EmbeddedRecord, topic: string): Fact | null {
    if (!r.headers.ce_type?.endsWith(`.${EVENT}`)) return null;
    if (!this.filter.accept(r.headers)) return null;
    const value = r.value as { customerId: number | string };
    return { ceId: r.headers.ce_id ?? "", customerId: String(value.customerId), topic };
  }
}

/** Duplicates (by ce_id) and missing customer ids among 1..n. */
export function accounting(
  facts: readonly { ceId: string; customerId: string | number }[],
  n: number,
): { duplicates: string[]; missing: number[]; extra: string[] } {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const f of facts) {
    if (seen.has(f.ceId)) duplicates.push(f.ceId);
    seen.add(f.ceId);
  }
  const ids = new Set(facts.map((f) => String(f.customerId)));
  const missing: number[] = [];
  for (let i = 1; i <= n; i++) if (!ids.has(String(i))) missing.push(i);
  const extra = [...ids].filter((id) => !(Number(id) >= 1 && Number(id) <= n));
  return { duplicates, missing, extra };
}

/** The Debezium update of customer `id`'s e-mail, right after the insert of customer `after` (same LSN range). */
export function emailUpdateRecord(id: number, after: number): { key: string; value: string; ts: number } {
  // between the insert of `after` (lsn BASE + after·100, ts BASE + after·10) and the next one
  const lsn = BASE_LSN + after * 100 + 50;
  const ts = BASE_TS + after * 10 + 5;
  const row = { id, first_name: `First${id}`, last_name: `Last${id}` };
  const payload = {
    before: { ...row, email: `c${id}@example.com` },
    after: { ...row, email: `c${id}.new@example.com` },
    source: {
      version: "3.6.1.Final",
      connector: "postgresql",
      name: "dbserver1",
      ts_ms: ts,
      snapshot: "false",
      db: "postgres",
      sequence: JSON.stringify([String(lsn - 25), String(lsn)]),
      schema: "inventory",
      table: "customers",
      txId: 500_000 + after,
      lsn,
    },
    transaction: null,
    op: "u",
    ts_ms: ts + 5,
  };
  return { key: JSON.stringify({ id }), value: JSON.stringify(payload), ts: ts + 5 };
}

/**
 * The changes of customers `from`..`from+count-1` in source order: each insert and, after every third one, an
 * e-mail change of the customer inserted just before — CustomerRegistered and CustomerEmailChanged on one
 * shared topic (3 inserts : 1 update).
 */
export function changes(from: number, count: number): { key: string; value: string; ts: number }[] {
  const out: { key: string; value: string; ts: number }[] = [];
  for (let id = from; id < from + count; id++) {
    out.push(insertRecord(id));
    if (id % 3 === 0) out.push(emailUpdateRecord(id - 1, id));
  }
  return out;
}

/** Appends `changes(from, count)` to the project's source file as kcat lines. */
export function appendChanges(project: Project, from: number, count: number): void {
  const lines = changes(from, count).map((r, i) =>
    JSON.stringify({
      topic: "dbserver1.inventory.customers",
      partition: 0,
      offset: from * 2 + i,
      ts: r.ts,
      headers: [],
      key: r.key,
      payload: r.value,
    }),
  );
  appendFileSync(project.source, lines.join("\n") + "\n");
}

/** A fact of any event type as a consumer of a shared topic processed it. */
export interface TypedFact {
  ceId: string;
  type: string;
  topic: string;
}

/**
 * A consumer group of a shared topic on the embedded output files: processes every record of every event type
 * (not only the migrated one), through its switch filter, committing after each poll. Never deduplicates.
 */
export class SharedTopicConsumer extends EmbeddedConsumer<TypedFact> {
  protected toFact(r: EmbeddedRecord, topic: string): TypedFact | null {
    if (!this.filter.accept(r.headers, topic)) return null;
    return { ceId: r.headers.ce_id ?? "", type: r.headers.ce_type ?? "", topic };
  }

  /** Polls every topic until none has anything left. */
  async drain(topics: string[]): Promise<void> {
    for (;;) {
      let read = 0;
      for (const t of topics) read += await this.poll(t, 100);
      if (read === 0) return;
    }
  }
}

/**
 * Accounting by ce_id of every event type: `expected` are the facts a consumer of the shared topic must see
 * (each once, whichever topic it came from).
 */
export function typedAccounting(
  processed: readonly TypedFact[],
  expected: ReadonlyMap<string, string>,
): { duplicates: string[]; missing: string[]; extra: string[]; byType: Record<string, number> } {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const byType: Record<string, number> = {};
  for (const f of processed) {
    if (seen.has(f.ceId)) duplicates.push(f.ceId);
    seen.add(f.ceId);
    byType[f.type] = (byType[f.type] ?? 0) + 1;
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  const extra = [...seen].filter((id) => !expected.has(id));
  return { duplicates, missing, extra, byType };
}

/** Every fact (ce_id → ce_type) on the embedded topics: what a consumer of all of them must see once each. */
export async function factsOn(project: Project, topics: string[]): Promise<Map<string, string>> {
  const facts = new Map<string, string>();
  for (const t of topics)
    for (const r of await topicRecords(project, t)) facts.set(r.headers.ce_id ?? "", r.headers.ce_type ?? "");
  return facts;
}
