// `changecast run` against the mock cluster with `ops.port` set, read as Prometheus and Kubernetes read it:
// /readyz turns ready once the group assigned partitions, /healthz is live, and /metrics counts what the run's
// summary reports (records in, events per type, dead letters), with the lag per partition read from the
// consumer's high watermarks.
import { appendFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runCommand } from "../../src/cli/run.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  EVENT_TOPIC,
  itemRecord,
  produceItems,
  quietKafka,
  SOURCE_TOPIC,
  syntheticPipeline,
  waitFor,
} from "../kafka/helpers.js";
import { parseMetrics, sumOf } from "../support/metrics.js";

const N = 3_000;
const POISON_AFTER = 1_234;
/** records produced in one source transaction after the first N */
const TXN = 300;

describe("run with the operations endpoint", () => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("serves /readyz after assignment, /healthz, and /metrics matching the run summary", async () => {
    mock = await startMockKafka({
      brokers: 1,
      topics: [
        { name: SOURCE_TOPIC, partitions: 3 },
        { name: EVENT_TOPIC, partitions: 3 },
      ],
    });
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery: "at-least-once" });
    appendFileSync(
      files.config,
      ["ops:", "  port: 0", "  host: 127.0.0.1", "log:", "  format: json", ""].join("\n"),
    );

    const logs: Record<string, unknown>[] = [];
    const out: string[] = [];
    const controller = new AbortController();
    // small batches: the backlog drains over many commits, so that scrapes see the lag go down
    const run = runCommand(
      { config: files.config, batchSize: 20 },
      { out: (l) => out.push(l), err: () => undefined },
      {
        signal: controller.signal,
        logStream: {
          write: (s) => {
            for (const line of s.split("\n").filter(Boolean))
              logs.push(JSON.parse(line) as Record<string, unknown>);
          },
        },
      },
    );
    let url = "";
    await waitFor("the endpoint's address in the log", () => {
      url = String(logs.find((l) => typeof l.url === "string")?.url ?? "");
      return url !== "";
    });
    expect(logs[0]).toMatchObject({ level: 30, pipeline: "items" });

    // ready once partitions are assigned (503 before: test/observe/metrics.test.ts probes)
    const readiness: { status: number; body: Record<string, unknown> }[] = [];
    await waitFor("/readyz", async () => {
      const res = await fetch(`${url}/readyz`);
      readiness.push({ status: res.status, body: (await res.json()) as Record<string, unknown> });
      return res.status === 200;
    });
    // start-up may be faster than the first probe, or slower (503 first); whenever a probe said ready, partitions
    // were assigned and the bootstrap done
    for (const r of readiness.filter((x) => x.status === 200))
      expect(r.body).toMatchObject({ assigned: true, bootstrapped: true });
    for (const r of readiness.filter((x) => x.status !== 200)) expect(r.body.status).toBe("fail");
    expect(readiness.at(-1)!.body).toMatchObject({ status: "ok", bootstrapped: true, assigned: true });

    const scrape = async () => parseMetrics(await (await fetch(`${url}/metrics`)).text());
    await produceItems(quietKafka(mock.brokers), 0, N, (seq) =>
      seq === POISON_AFTER ? { key: '{"id":-1}', value: "this is not JSON" } : null,
    );
    let maxLag = 0;
    await waitFor("every record counted", async () => {
      const now = await scrape();
      maxLag = Math.max(maxLag, sumOf(now, "changecast_consumer_lag_records"));
      return sumOf(now, "changecast_records_in_total") === N + 1;
    });
    // the backlog was seen as lag while it drained (from the fetched batches' high watermarks)
    expect(maxLag).toBeGreaterThan(0);
    expect(maxLag).toBeLessThanOrEqual(N + 1);

    // a transactional source (Kafka Connect exactly-once source support): the commit markers after the
    // records are consumed too, so a caught-up partition shows no lag and the worker is not "pending"
    const kafka = quietKafka(mock.brokers);
    const producer = kafka.producer({
      transactionalId: "debezium-like",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({
      topic: SOURCE_TOPIC,
      messages: Array.from({ length: TXN }, (_, i) => itemRecord(N + i)),
    });
    await txn.commit();
    await producer.disconnect();
    await waitFor(
      "the transaction's records counted",
      async () => sumOf(await scrape(), "changecast_records_in_total") === N + 1 + TXN,
    );
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", pending: 0 });
    const m = await scrape();

    controller.abort();
    expect(await run).toBe(0);
    // the endpoint goes with the run
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    // the summary on stdout and the metrics agree
    const summary = out.join("\n");
    const count = (label: string) => Number(new RegExp(`^${label}: (\\d+)`, "m").exec(summary)?.[1]);
    expect(count("records in")).toBe(N + 1 + TXN);
    expect(sumOf(m, "changecast_records_in_total")).toBe(count("records in"));
    expect(sumOf(m, "changecast_events_out_total")).toBe(count("events out"));
    expect(sumOf(m, "changecast_events_out_total", { type: "io.example.test.ItemChanged" })).toBe(N + TXN);
    expect(sumOf(m, "changecast_records_filtered_total")).toBe(count("filtered"));
    expect(sumOf(m, "changecast_dead_letters_total")).toBe(count("dead letters"));
    expect(
      sumOf(m, "changecast_dead_letters_total", { stage: "DECODE", code: "DECODE_INVALID_RECORD" }),
    ).toBe(1);
    expect(sumOf(m, "changecast_end_to_end_latency_seconds_count")).toBe(N + TXN);
    expect(sumOf(m, "changecast_batch_duration_seconds_count")).toBeGreaterThan(0);
    // every source partition was fetched and is caught up
    for (const partition of [0, 1, 2])
      expect(
        m.get(
          `changecast_consumer_lag_records{topic="${SOURCE_TOPIC}",partition="${partition}",pipeline="items"}`,
        ),
      ).toBe(0);
    expect(sumOf(m, "changecast_rebalances_total")).toBeGreaterThanOrEqual(1);
    expect(sumOf(m, "changecast_registry_requests_total")).toBeGreaterThan(0);
    expect(sumOf(m, "changecast_registry_errors_total")).toBe(0);
    // the log says how the run ended, as JSON
    expect(logs.find((l) => l.msg === "changecast: run finished")).toMatchObject({
      recordsIn: N + 1 + TXN,
      deadLetters: 1,
    });
  });
});
