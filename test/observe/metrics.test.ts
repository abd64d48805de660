// The worker's metrics and probes as Prometheus and Kubernetes read them: the example pipeline's records through
// the real processor, counted by RunStats and by the metrics side by side, then scraped over HTTP.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { exportCounters } from "../../src/observe/counters.js";
import { Health } from "../../src/observe/health.js";
import { WorkerMetrics, createMetricsRegistry } from "../../src/observe/metrics.js";
import { startOpsServer, type OpsServer } from "../../src/observe/server.js";
import type { PublishedRecord } from "../../src/publish/output-record.js";
import { RunStats } from "../../src/worker/run-stats.js";
import type { HeldOutcome } from "../../src/worker/held-changes.js";
import { parseMetrics, sumOf } from "../support/metrics.js";

const ROOT = join(import.meta.dirname, "..", "..");

function captureRecords(file: string, max = Infinity): SourceRecord[] {
  return readFileSync(join(ROOT, "captures", "postgres", file), "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(0, max)
    .map((line) => parseKcatLine(line));
}

function withTable(record: SourceRecord, table: string): SourceRecord {
  const value = record.value!.toString("utf8").replace(/"table":"\w+"/, `"table":"${table}"`);
  return { ...record, topic: `dbserver1.inventory.${table}`, value: Buffer.from(value) };
}

let server: OpsServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe("worker metrics", () => {
  it("count what the run summary counts: records in, events per type, filtered, dead letters by stage and code", async () => {
    const metrics = new WorkerMetrics(createMetricsRegistry({ pipeline: "inventory" }));
    const pipeline = await openPipeline(join(ROOT, "changecast.yaml"), {
      stateUrl: "sqlite::memory:",
      embeddedRegistry: true,
      wrapRegistry: (r) => metrics.instrumentRegistry(r),
    });
    const stats = new RunStats();
    const observer = metrics.observer();
    try {
      const records = [
        ...captureRecords("dbserver1.inventory.customers.jsonl"),
        ...captureRecords("__debezium-heartbeat.dbserver1.jsonl", 20),
        // not JSON: DECODE; a table without a transform: ROUTE
        { ...captureRecords("dbserver1.inventory.orders.jsonl", 1)[0]!, value: Buffer.from("{not json") },
        withTable(captureRecords("dbserver1.inventory.orders.jsonl", 1)[0]!, "nowhere"),
      ];
      observer.batchPolled?.(records);
      const outputs: PublishedRecord[] = [];
      for (const record of records) {
        const outcome = pipeline.processor.process(record);
        stats.count(outcome);
        observer.outcome?.(outcome, record);
        if (outcome.kind === "events") outputs.push(...outcome.records);
        if (outcome.kind === "dead-letter") outputs.push(outcome.record);
      }
      observer.batchDelivered?.(records, outputs);
    } finally {
      await pipeline.close();
    }
    expect(stats.deadLetters).toBe(2);
    expect(stats.filtered).toBeGreaterThan(0);

    server = await startOpsServer({ port: 0, host: "127.0.0.1", registry: metrics.registry });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const m = parseMetrics(text);

    expect(sumOf(m, "changecast_records_in_total")).toBe(stats.recordsIn);
    expect(sumOf(m, "changecast_events_out_total")).toBe(stats.eventsOut);
    for (const [type, n] of stats.eventsByType)
      expect(sumOf(m, "changecast_events_out_total", { type })).toBe(n);
    for (const [reason, n] of stats.filteredByReason)
      expect(sumOf(m, "changecast_records_filtered_total", { reason })).toBe(n);
    for (const [stage, n] of stats.deadLettersByStage)
      expect(sumOf(m, "changecast_dead_letters_total", { stage })).toBe(n);
    expect(
      sumOf(m, "changecast_dead_letters_total", { stage: "DECODE", code: "DECODE_INVALID_RECORD" }),
    ).toBe(1);
    expect(sumOf(m, "changecast_dead_letters_total", { stage: "ROUTE" })).toBe(1);
    // defined before the parking feature feeds them
    expect(m.get('changecast_records_parked_total{pipeline="inventory"}')).toBe(0);
    expect(m.get('changecast_records_released_total{pipeline="inventory"}')).toBe(0);
    // one batch; one end-to-end latency per event, none for dead letters
    expect(sumOf(m, "changecast_batch_duration_seconds_count")).toBe(1);
    expect(sumOf(m, "changecast_end_to_end_latency_seconds_count")).toBe(stats.eventsOut);
    // start-up registered the example's schemas through the counted registry
    expect(sumOf(m, "changecast_registry_requests_total", { operation: "lookup" })).toBeGreaterThan(0);
    expect(sumOf(m, "changecast_registry_errors_total")).toBe(0);
    // the process metrics every exporter carries
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("count parked, released and timed-out records and aggregates as the run summary does", async () => {
    const metrics = new WorkerMetrics();
    const stats = new RunStats();
    const held: HeldOutcome[] = [
      { kind: "released", outcome: { kind: "filtered", reason: "no-matching-event" } },
      { kind: "timed-out", outcome: { kind: "filtered", reason: "no-matching-event" } },
      { kind: "aggregate", records: [], partial: true },
      { kind: "aggregate", records: [], partial: false },
    ];
    for (let i = 0; i < 3; i++) {
      const parked = { kind: "held", reason: "parked" } as const;
      metrics.countOutcome(parked);
      stats.count(parked);
    }
    for (const h of held) {
      metrics.countHeld(h);
      stats.countHeld(h);
    }
    const m = parseMetrics(await metrics.registry.metrics());
    expect(sumOf(m, "changecast_records_parked_total")).toBe(3);
    expect(sumOf(m, "changecast_records_released_total")).toBe(1);
    expect(sumOf(m, "changecast_records_timed_out_total")).toBe(1);
    expect(sumOf(m, "changecast_aggregates_total", { partial: "true" })).toBe(1);
    expect(sumOf(m, "changecast_aggregates_total")).toBe(2);
    // a parked record counts as a record in once, when it is finally released or timed out
    expect(sumOf(m, "changecast_records_in_total")).toBe(stats.recordsIn);
    expect(stats.recordsIn).toBe(2);
  });

  it("a failing registry call is counted as a request and an error", async () => {
    const metrics = new WorkerMetrics();
    const failing = metrics.instrumentRegistry({
      register: () => Promise.reject(new Error("registry down")),
      lookup: () => Promise.resolve(null),
      schemaById: () => Promise.reject(new Error("no such id")),
      latest: () => Promise.resolve(null),
      versions: () => Promise.resolve([]),
      compatibility: () => Promise.resolve("BACKWARD"),
      setCompatibility: () => Promise.resolve(),
      testCompatibility: () => Promise.resolve({ isCompatible: true, messages: [] }),
    });
    await expect(failing.schemaById(7)).rejects.toThrow("no such id");
    await failing.lookup("s", "{}");
    const m = parseMetrics(await metrics.registry.metrics());
    expect(sumOf(m, "changecast_registry_requests_total", { operation: "schemaById" })).toBe(1);
    expect(sumOf(m, "changecast_registry_errors_total", { operation: "schemaById" })).toBe(1);
    expect(sumOf(m, "changecast_registry_errors_total", { operation: "lookup" })).toBe(0);
  });

  it("reads consumer lag per partition and rebalances from the consumer at each scrape", async () => {
    const metrics = new WorkerMetrics();
    const consumer = {
      stats: { rebalances: 1 },
      lag: () => [
        { topic: "dbserver1.inventory.customers", partition: 0, lag: 12 },
        { topic: "dbserver1.inventory.customers", partition: 1, lag: 0 },
      ],
    };
    metrics.watchConsumer(consumer);
    let m = parseMetrics(await metrics.registry.metrics());
    expect(
      m.get('changecast_consumer_lag_records{topic="dbserver1.inventory.customers",partition="0"}'),
    ).toBe(12);
    expect(
      m.get('changecast_consumer_lag_records{topic="dbserver1.inventory.customers",partition="1"}'),
    ).toBe(0);
    expect(m.get("changecast_rebalances_total")).toBe(1);
    // a rebalance moved partition 1 away: its series goes, the counter counts the join
    consumer.stats.rebalances = 2;
    consumer.lag = () => [{ topic: "dbserver1.inventory.customers", partition: 0, lag: 3 }];
    m = parseMetrics(await metrics.registry.metrics());
    expect(
      m.get('changecast_consumer_lag_records{topic="dbserver1.inventory.customers",partition="0"}'),
    ).toBe(3);
    expect(
      m.has('changecast_consumer_lag_records{topic="dbserver1.inventory.customers",partition="1"}'),
    ).toBe(false);
    expect(m.get("changecast_rebalances_total")).toBe(2);
  });
});

describe("a command's own counters", () => {
  it("are served as Prometheus counters equal to the command's totals, however often it is scraped", async () => {
    // the shape of a command's statistics object (a sink's, say): totals and totals by key
    const stats = { read: 0, deadLettersByCode: new Map<string, number>() };
    const registry = createMetricsRegistry({ pipeline: "inventory" });
    exportCounters(registry, [
      { name: "changecast_sink_records_read_total", help: "records read", read: () => stats.read },
      {
        name: "changecast_sink_dead_letters_total",
        help: "dead letters by code",
        read: () => stats.deadLettersByCode,
        label: "code",
      },
    ]);
    server = await startOpsServer({ port: 0, host: "127.0.0.1", registry });
    const scrape = async () => parseMetrics(await (await fetch(`${server!.url}/metrics`)).text());
    expect(sumOf(await scrape(), "changecast_sink_records_read_total")).toBe(0);
    stats.read = 120;
    stats.deadLettersByCode.set("SINK_TYPE", 2);
    expect(sumOf(await scrape(), "changecast_sink_records_read_total")).toBe(120);
    stats.read = 150;
    stats.deadLettersByCode.set("SINK_TYPE", 3).set("SINK_MISSING", 1);
    await scrape();
    const m = await scrape();
    expect(sumOf(m, "changecast_sink_records_read_total")).toBe(150);
    expect(sumOf(m, "changecast_sink_dead_letters_total", { code: "SINK_TYPE" })).toBe(3);
    expect(sumOf(m, "changecast_sink_dead_letters_total", { code: "SINK_MISSING" })).toBe(1);
  });
});

describe("probes", () => {
  it("/healthz fails when records are pending and nothing was delivered for stuckAfterMs, /readyz after start-up", async () => {
    let now = 1_000_000;
    const health = new Health({ stuckAfterMs: 60_000, now: () => now });
    let assigned = false;
    let lag = 0;
    health.addReadyCheck("assigned", () => assigned);
    health.addPendingSource(() => lag);
    server = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      registry: createMetricsRegistry(),
      liveness: () => health.liveness(),
      readiness: () => health.readiness(),
    });
    const get = async (path: string) => {
      const res = await fetch(`${server!.url}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    expect((await get("/readyz")).status).toBe(503);
    health.markBootstrapped();
    expect(await get("/readyz")).toMatchObject({ status: 503, body: { status: "fail", assigned: false } });
    assigned = true;
    expect(await get("/readyz")).toMatchObject({ status: 200, body: { status: "ok", bootstrapped: true } });

    // idle with nothing to do: live however long it lasts
    now += 3_600_000;
    expect((await get("/healthz")).status).toBe(200);
    // a batch polled and never delivered: live until stuckAfterMs, then not
    const observer = health.observer();
    observer.batchPolled?.([]);
    lag = 5;
    now += 59_000;
    expect((await get("/healthz")).status).toBe(200);
    now += 2_000;
    expect(await get("/healthz")).toMatchObject({
      status: 503,
      body: { status: "fail", pending: 5, secondsSinceProgress: 61, stuckAfterSeconds: 60 },
    });
    observer.batchDelivered?.([], []);
    lag = 0;
    expect((await get("/healthz")).status).toBe(200);

    // stopping: no longer ready
    health.markStopping();
    expect((await get("/readyz")).status).toBe(503);
  });

  it("answers HEAD, refuses other methods and unknown paths", async () => {
    server = await startOpsServer({ port: 0, host: "127.0.0.1", registry: createMetricsRegistry() });
    expect((await fetch(`${server.url}/healthz`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404);
  });
});
