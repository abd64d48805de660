// Scale out and dead letters on the mock cluster: two workers of one pipeline share the source partitions
// and together publish every expected ce_id exactly once; a poison record goes to the DLQ topic with Kafka
// Connect's __connect.errors.* headers while the records around it flow.
import { afterAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { DLQ_HEADERS } from "../../src/publish/output-record.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  account,
  capturingLogger,
  consumeUntil,
  DLQ_TOPIC,
  EVENT_TOPIC,
  expectedItemIds,
  KAFKA_CLIENTS_UNDER_TEST,
  lastAssignment,
  produceItems,
  quietKafka,
  SOURCE_TOPIC,
  syntheticPipeline,
  waitFor,
} from "./helpers.js";

const N = 20_000;
const POISON_AFTER = 7_777;

describe.each(KAFKA_CLIENTS_UNDER_TEST)("two workers in one consumer group (%s)", (client) => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("share the partitions, publish every ce_id exactly once and dead-letter the poison record", async () => {
    mock = await startMockKafka({
      brokers: 3,
      topics: [
        { name: SOURCE_TOPIC, partitions: 4 },
        { name: EVENT_TOPIC, partitions: 4 },
      ],
    });
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery: "exactly-once", client });
    const expected = await expectedItemIds(files.config, 0, N);
    const kafka = quietKafka(mock.brokers);

    const workers = await Promise.all(
      ["a", "b"].map(async () => {
        const pipeline = await openPipeline(files.config, { stateUrl: "sqlite::memory:" });
        const log = capturingLogger();
        const controller = new AbortController();
        const run = runKafkaWorker(pipeline, {
          signal: controller.signal,
          logger: log.logger,
          env: { KAFKA_SESSION_TIMEOUT_MS: "6000", KAFKA_HEARTBEAT_INTERVAL_MS: "500" },
        });
        return { pipeline, log, controller, run };
      }),
    );
    const partitionsOf = (w: (typeof workers)[number]) =>
      lastAssignment(w.log.lines)?.[SOURCE_TOPIC]?.length ?? 0;
    await waitFor("both workers to hold partitions", () => workers.every((w) => partitionsOf(w) > 0));
    expect(workers.map(partitionsOf).reduce((a, b) => a + b)).toBe(4);

    await produceItems(kafka, 0, N, (seq) =>
      seq === POISON_AFTER ? { key: '{"id":-1}', value: "this is not JSON" } : null,
    );
    const received = await consumeUntil(kafka, [EVENT_TOPIC], (all) => all.length >= N, { idleMs: 1_500 });
    const dlq = await consumeUntil(kafka, [DLQ_TOPIC], (all) => all.length >= 1, { idleMs: 500 });
    for (const w of workers) w.controller.abort();
    const stats = await Promise.all(workers.map((w) => w.run));
    await Promise.all(workers.map((w) => w.pipeline.close()));

    const tally = account(received, expected);
    expect(tally.missing).toEqual([]);
    expect(tally.duplicates).toBe(0);
    expect(tally.unexpected).toBe(0);
    // both did part of the work
    for (const s of stats) expect(s.recordsIn).toBeGreaterThan(0);
    expect(stats.reduce((n, s) => n + s.deadLetters, 0)).toBe(1);

    expect(dlq).toHaveLength(1);
    const [dead] = dlq;
    expect(dead!.key).toBe('{"id":-1}');
    expect(dead!.value?.toString("utf8")).toBe("this is not JSON");
    expect(dead!.headers[DLQ_HEADERS.topic]).toBe(SOURCE_TOPIC);
    expect(dead!.headers[DLQ_HEADERS.stage]).toBe("DECODE");
    expect(dead!.headers[DLQ_HEADERS.partition]).toMatch(/^[0-3]$/);
    expect(dead!.headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
    expect(dead!.headers[DLQ_HEADERS.className]).toMatch(/^changecast\./);
    expect(dead!.headers[DLQ_HEADERS.code]).toMatch(/^DECODE_/);
    expect(dead!.headers[DLQ_HEADERS.message]).not.toBe("");
  });
});
