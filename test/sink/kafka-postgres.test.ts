// The sink in Kafka mode: the example captures produced as Debezium topics on the mock cluster, the worker run
// (exactly-once) publishing Avro in the Confluent wire format through the embedded registry served over HTTP,
// then `changecast sink` (a child process, its own consumer group) into a real Postgres. The tables equal the
// model of the business state; killed with SIGKILL and restarted, nothing is applied twice; the consumer group's
// committed offsets mirror the positions in the database.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runRegistryServe } from "../../src/cli/registry-serve.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import {
  captureMessages,
  consumeUntil,
  examplePipeline,
  partitionReport,
  quietKafka,
  withProducer,
} from "../kafka/helpers.js";
import { heldRecords } from "../../src/worker/held-changes.js";
import type { PublishedRecord } from "../../src/publish/output-record.js";
import { cli, connect, exited, model, ROOT, spawnCli, tables, type View } from "./harness.js";

let registry: { close(): Promise<void>; url: string };
let mock: MockKafka;
let pg: TestPostgres;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "changecast-registry-"));
  registry = await runRegistryServe({
    port: 0,
    stateUrl: `sqlite:${join(dir, "registry.sqlite")}`,
    baseDir: dir,
  });
  mock = await startMockKafka({ brokers: 1 });
  pg = await startPostgres();
});
afterAll(async () => {
  await registry?.close();
  await mock?.stop();
  await pg?.stop();
});

/** The example's events in publish order per key, from the offline processor (the worker's own mapping). */
async function expectedViews(config: string): Promise<View[]> {
  const pipeline = await openPipeline(config, { stateUrl: "sqlite::memory:", embeddedRegistry: true });
  try {
    const views: View[] = [];
    const push = (records: readonly PublishedRecord[]) => {
      for (const { view } of records)
        views.push({
          topic: view.topic,
          headers: view.headers,
          value: view.value as Record<string, unknown>,
        });
    };
    // what the records made for other records: released children, completed transaction aggregates
    const takeHeld = () => {
      push(pipeline.processor.takeExtraOutputs());
      for (const held of pipeline.processor.takeHeldOutcomes()) push(heldRecords(held));
    };
    for (const [topic, messages] of captureMessages())
      messages.forEach((m, i) => {
        const record: SourceRecord = {
          topic,
          partition: 0,
          offset: String(i),
          timestamp: m.timestamp ? Number(m.timestamp) : null,
          headers: {},
          key: (m.key as Buffer | null) ?? null,
          value: (m.value as Buffer | null) ?? null,
        };
        const outcome = pipeline.processor.process(record);
        if (outcome.kind === "events") push(outcome.records);
        takeHeld();
      });
    pipeline.processor.finishHeld();
    takeHeld();
    return views;
  } finally {
    await pipeline.close();
  }
}

describe("changecast sink (Kafka → Postgres)", () => {
  it("projects the published events through the registry into Postgres, exactly once across kills", async () => {
    const files = examplePipeline({
      brokers: mock.bootstrap,
      registryUrl: registry.url,
      delivery: "exactly-once",
    });
    const views = await expectedViews(files.config);
    const kafka = quietKafka(mock.brokers);
    for (const t of ["inventory.customer-events", "inventory.order-events", "inventory.product-events"])
      await mock.createTopic(t, 3);
    await withProducer(kafka, async (p) => {
      for (const [topic, messages] of captureMessages()) await p.send({ topic, messages, acks: -1 });
    });
    const pipeline = await openPipeline(files.config);
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger: pino({ level: "silent" }) });
    const wanted = views.filter((v) => v.topic !== "inventory.product-events").length;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const ends = await Promise.all(
        ["inventory.customer-events", "inventory.order-events"].map((t) => partitionReport(kafka, t)),
      );
      // exactly-once: each committed transaction adds a marker, so the log ends pass the event count
      const committed = ends.flat().reduce((n, p) => n + Number(p.high), 0);
      if (committed >= wanted) break;
      if (Date.now() > deadline) throw new Error(`only ${committed} of ${wanted} published`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 2_000));
    controller.abort();
    await worker;
    await pipeline.close();

    // a record the sink cannot decode, among the events: dead-lettered with its reason, the rest applied
    await withProducer(kafka, (p) =>
      p.send({
        topic: "inventory.customer-events",
        acks: -1,
        messages: [
          {
            key: "999999",
            value: Buffer.from("not avro"),
            headers: {
              ce_id: "00000000-0000-8000-8000-000000000000",
              ce_type: "io.example.customer.CustomerRegistered",
              changecast_position: "postgresql:1:1:0",
            },
          },
        ],
      }),
    );
    const sink = join(files.dir, "changecast.sink.yaml");
    writeFileSync(
      sink,
      readFileSync(join(ROOT, "changecast.sink.yaml"), "utf8")
        .replace("${SINK_DATABASE_URL:-sqlite:.changecast/sink.sqlite}", pg.url)
        .replace("projections:", "batch:\n  maxEvents: 25\nprojections:"),
    );
    const env = { KAFKA_SESSION_TIMEOUT_MS: "6000" };
    // killed three times once it has started, then run until idle
    let kills = 0;
    for (let i = 0; i < 3; i++) {
      const child = spawnCli(files, env, "sink", "--config", sink, "--idle-exit", "8");
      let timer: NodeJS.Timeout | undefined;
      child.stderr!.on("data", (d: Buffer) => {
        if (!timer && d.toString().includes("changecast sink:"))
          timer = setTimeout(() => child.kill("SIGKILL"), 2_500 + Math.floor(Math.random() * 2_000));
      });
      await exited(child);
      clearTimeout(timer);
      if (child.signalCode === "SIGKILL") kills++;
      // the killed member stays in the group until its session times out
      await new Promise((r) => setTimeout(r, 6_500));
    }
    const final = spawnCli(files, env, "sink", "--config", sink, "--idle-exit", "8");
    let out = "";
    let err = "";
    final.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    final.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    expect(await exited(final), err).toBe(0);
    expect(out).toContain("table customers:");
    expect(kills).toBeGreaterThan(0);
    // the dead letter (at least once: a kill between its send and the commit sends it again)
    const letters = await consumeUntil(
      kafka,
      ["changecast-sink-inventory-projection.dlq"],
      (all) => all.length > 0,
      {
        idleMs: 1_000,
      },
    );
    expect(letters.length).toBeGreaterThan(0);
    expect(letters.every((l) => l.key === "999999")).toBe(true);
    expect(letters[0]!.headers).toMatchObject({
      changecast_error_code: "SINK_DECODE",
      "__connect.errors.stage": "SINK",
      "__connect.errors.topic": "inventory.customer-events",
      ce_type: "io.example.customer.CustomerRegistered",
    });
    expect(letters[0]!.headers["__connect.errors.exception.message"]).toMatch(/wire format/);

    const knex = connect(pg.url, files.dir);
    try {
      expect(await tables(knex)).toEqual(model(views));
      // the group's offsets mirror the positions in the database (what `migrate status` shows)
      const positions = (await knex("changecast_sink_positions")) as {
        topic: string;
        partition: number;
        next_offset: string;
      }[];
      for (const t of ["inventory.customer-events", "inventory.order-events"]) {
        const report = await partitionReport(kafka, t, "changecast-sink-inventory-projection");
        for (const p of report) {
          const mine = positions.find((x) => x.topic === t && Number(x.partition) === p.partition);
          expect(p.committed).toBe(mine?.next_offset);
        }
      }
    } finally {
      await knex.destroy();
    }
    const check = cli(files, "check", "--config", files.config, "--sink", sink);
    expect(check.out).toContain("ok: sink inventory-projection, 9 projections, 2 tables");
  }, 600_000);
});
