// End to end on the mock cluster: the example pipeline's captures produced as the Debezium topics, the worker
// run in-process (the same function `changecast run` uses with kafka.brokers), the published records read back
// and decoded with the Confluent client against the embedded registry served over HTTP.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runRegistryServe } from "../../src/cli/registry-serve.js";
import { runKafkaWorker, sourceTopics } from "../../src/cli/run.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  expectedViews,
  account,
  captureMessages,
  consumeUntil,
  examplePipeline,
  KAFKA_CLIENTS_UNDER_TEST,
  quietKafka,
  withProducer,
} from "./helpers.js";

let registry: { close(): Promise<void>; url: string };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "changecast-registry-"));
  registry = await runRegistryServe({
    port: 0,
    stateUrl: `sqlite:${join(dir, "registry.sqlite")}`,
    baseDir: dir,
  });
});
afterAll(async () => {
  await registry?.close();
});

const CASES = KAFKA_CLIENTS_UNDER_TEST.flatMap((client) =>
  (["at-least-once", "exactly-once"] as const).map((delivery) => ({ client, delivery })),
);

describe.each(CASES)("Kafka worker end to end ($client, $delivery)", ({ client, delivery }) => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("publishes every event of the example captures, decodable through the registry, with docs/records.md headers", async () => {
    mock = await startMockKafka({ brokers: 3 });
    const files = examplePipeline({ brokers: mock.bootstrap, registryUrl: registry.url, delivery, client });
    const expected = await expectedViews(files.config);
    expect(expected.size).toBeGreaterThan(1000);
    const kafka = quietKafka(mock.brokers);
    const captures = captureMessages();
    await withProducer(kafka, async (p) => {
      for (const [topic, messages] of captures) await p.send({ topic, messages, acks: -1 });
    });

    const pipeline = await openPipeline(files.config);
    // every topic the pipeline reads is in the captures (which also hold tables the example keeps no events of)
    expect([...captures.keys()]).toEqual(
      expect.arrayContaining(sourceTopics(pipeline.config, pipeline.transforms)),
    );
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger: pino({ level: "silent" }) });
    const eventTopics = [...new Set([...expected.values()].map((v) => v.topic))];
    const received = await consumeUntil(kafka, eventTopics, (all) => all.length >= expected.size, {
      idleMs: 1_500,
    });
    controller.abort();
    const stats = await worker;
    await pipeline.close();

    const tally = account(received, new Set(expected.keys()));
    expect(tally.missing).toEqual([]);
    expect(tally.unexpected).toBe(0);
    expect(tally.duplicates).toBe(0);
    expect(stats.balanced).toBe(true);

    const registryClient = new SchemaRegistry({ host: registry.url });
    for (const r of received) {
      const view = expected.get(r.headers.ce_id!)!;
      expect(r.topic).toBe(view.topic);
      expect(r.key).toBe(view.key);
      expect(r.headers).toMatchObject(view.headers);
      expect(r.headers["content-type"]).toBe("application/avro");
      expect(Number(r.timestamp)).toBe(Date.parse(view.headers.ce_time!));
      const decoded = (await registryClient.decode(r.value!)) as Record<string, unknown>;
      expect(Object.keys(decoded).sort()).toEqual(Object.keys(view.value as object).sort());
      for (const [field, value] of Object.entries(view.value as Record<string, unknown>)) {
        if (typeof value === "string" && typeof decoded[field] === "string")
          expect(decoded[field]).toBe(value);
      }
    }
  });
});
