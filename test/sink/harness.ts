// The sink's test project: the example pipeline and sink file copied into a temp dir, the CLI as a child process,
// and a model of the business state the example sink should produce, computed from the published events
// independently of the sink's code.
import { sortablePosition } from "../../src/sink/position.js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import knexFactory, { type Knex } from "knex";

export const ROOT = join(import.meta.dirname, "..", "..");
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const ENV = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

export interface SinkProject {
  dir: string;
  config: string;
  sink: string;
}

/** The example pipeline (embedded: its captures) and the example sink file, targeting `targetUrl`. */
export function exampleProject(targetUrl: string, sinkText?: (text: string) => string): SinkProject {
  const dir = mkdtempSync(join(tmpdir(), "changecast-sink-"));
  for (const d of ["transforms", "schemas", "captures"])
    cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    readFileSync(join(ROOT, "changecast.yaml"), "utf8")
      .replace("${KAFKA_BROKERS:-}", "")
      .replace("${SCHEMA_REGISTRY_URL:-}", "")
      .replace("${STATE_URL:-sqlite:.changecast/state.sqlite}", "sqlite:.changecast/state.sqlite"),
  );
  const sink = join(dir, "changecast.sink.yaml");
  let text = readFileSync(join(ROOT, "changecast.sink.yaml"), "utf8").replace(
    "${SINK_DATABASE_URL:-sqlite:.changecast/sink.sqlite}",
    targetUrl,
  );
  if (sinkText) text = sinkText(text);
  writeFileSync(sink, text);
  return { dir, config, sink };
}

export interface Captured {
  code: number;
  out: string;
  err: string;
}

export function cli(_project: { dir: string }, ...args: string[]): Captured {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", env: ENV });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export function spawnCli(_project: { dir: string }, env: NodeJS.ProcessEnv, ...args: string[]): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], {
    env: { ...ENV, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode);
    else child.once("exit", (code) => done(code));
  });
}

/** A published event as the model needs it (the replay view of docs/records.md). */
export interface View {
  topic: string;
  headers: Record<string, string>;
  value: Record<string, unknown>;
}

/** The embedded output file of a topic, in order. */
export function outputViews(dir: string, topic: string): View[] {
  const path = join(dir, ".changecast", "out", `${topic}.jsonl`);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as View);
}

export interface CustomerRow {
  customer_id: string;
  email: string;
  first_name: string;
  last_name: string;
  changecast_applied: string;
}
export interface OrderRow {
  order_id: string;
  status: string;
  quantity: string;
  amount: string;
  changecast_applied: string;
}

/**
 * The business state of changecast.sink.yaml after `views` (each key's events in publish order): customers
 * registered, renamed, re-addressed and deleted; orders placed and moved through their statuses. `applied`
 * counts the events applied to each row: a row applied twice, or an event missed, shows in it.
 */
export function model(views: View[]): { customers: CustomerRow[]; orders: OrderRow[] } {
  const customers = new Map<string, CustomerRow & { alive: boolean }>();
  const orders = new Map<string, OrderRow>();
  const applied = new Map<string, number>();
  const bump = (k: string) => {
    const n = (applied.get(k) ?? 0) + 1;
    applied.set(k, n);
    return String(n);
  };
  // an update of an order not there yet waits for it (the sink parks it)
  const waiting = new Map<string, string[]>();
  const setStatus = (oid: string, status: string) => {
    const o = orders.get(oid);
    if (o) Object.assign(o, { status, changecast_applied: bump(`o${oid}`) });
  };
  // the sink applies each row's events in source order (changecast_position), whatever order they were
  // published in: a transaction aggregate (OrderPlaced) is published when its transaction completes
  const ordered = views
    .map((v, i) => ({ v, i, at: sortablePosition(v.headers.changecast_position ?? "") }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.i - b.i))
    .map((x) => x.v);
  for (const v of ordered) {
    const e = v.value;
    const type = v.headers.ce_type?.split(".").pop();
    const cid = String(e.customerId);
    const c = customers.get(cid);
    switch (type) {
      case "CustomerRegistered":
        customers.set(cid, {
          customer_id: cid,
          email: String(e.email),
          first_name: String(e.firstName),
          last_name: String(e.lastName),
          changecast_applied: bump(`c${cid}`),
          alive: true,
        });
        break;
      case "CustomerEmailChanged":
        if (c?.alive) Object.assign(c, { email: String(e.email), changecast_applied: bump(`c${cid}`) });
        break;
      case "CustomerNameChanged":
        if (c?.alive)
          Object.assign(c, {
            first_name: String(e.firstName),
            last_name: String(e.lastName),
            changecast_applied: bump(`c${cid}`),
          });
        break;
      case "CustomerDeleted":
        bump(`c${cid}`);
        if (c) c.alive = false;
        break;
      case "OrderPlaced": {
        const oid = String(e.orderId);
        orders.set(oid, {
          order_id: oid,
          status: String(e.status),
          quantity: String(e.quantity),
          amount: String(e.amount),
          changecast_applied: bump(`o${oid}`),
        });
        // updates of the order that came before it (same change: an order inserted already paid) apply now
        for (const status of waiting.get(oid) ?? []) setStatus(oid, status);
        waiting.delete(oid);
        break;
      }
      case "OrderPaid":
      case "OrderShipped":
      case "OrderDelivered":
      case "OrderCancelled": {
        const oid = String(e.orderId);
        const status = type.slice("Order".length).toUpperCase();
        if (orders.has(oid)) setStatus(oid, status);
        else waiting.set(oid, [...(waiting.get(oid) ?? []), status]);
        break;
      }
    }
  }
  const byId = (a: { id: string }, b: { id: string }) => Number(a.id) - Number(b.id);
  return {
    customers: [...customers.values()]
      .filter((c) => c.alive)
      .map(({ alive: _alive, ...row }) => row)
      .map((r) => ({ id: r.customer_id, r }))
      .sort(byId)
      .map((x) => x.r),
    orders: [...orders.values()]
      .map((r) => ({ id: r.order_id, r }))
      .sort(byId)
      .map((x) => x.r),
  };
}

/** The example sink's tables as the model shows them (every value as text). */
export async function tables(knex: Knex): Promise<{ customers: CustomerRow[]; orders: OrderRow[] }> {
  const text = (rows: Record<string, unknown>[]) =>
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));
  const customers = text(
    await knex("customers")
      .select("customer_id", "email", "first_name", "last_name", "changecast_applied")
      .orderBy("customer_id"),
  ) as unknown as CustomerRow[];
  const orders = text(
    await knex("orders")
      .select("order_id", "status", "quantity", "amount", "changecast_applied")
      .orderBy("order_id"),
  ) as unknown as OrderRow[];
  return { customers, orders };
}

export function connect(url: string, baseDir: string): Knex {
  if (url.startsWith("sqlite:"))
    return knexFactory({
      client: "better-sqlite3",
      connection: { filename: join(baseDir, url.slice("sqlite:".length)) },
      useNullAsDefault: true,
    });
  return knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 2 } });
}

/** The example's customer and order events in publish order (each file in order; a key's events share a file). */
export function exampleViews(dir: string): View[] {
  return [...outputViews(dir, "inventory.customer-events"), ...outputViews(dir, "inventory.order-events")];
}
