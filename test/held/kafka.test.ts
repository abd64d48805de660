// Dependencies and aggregates on the mock Kafka cluster, both delivery modes: phones produced before their persons
// (another topic, another partition) are parked, then published once each when the persons arrive; an order and
// its lines (with the transaction topic) become one OrderPlaced.
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { Message } from "kafkajs";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker, sourceTopics } from "../../src/cli/run.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import { consumeUntil, quietKafka, withProducer } from "../kafka/helpers.js";
import { crmProject, line, order, person, phone, txLine } from "./support.js";

/** Source time of the transaction: close to the phones' (a record later by 15 min would time them out). */
const T = 1_003_000;

function message(kcat: string): Message {
  // the broker's time: the records' own (1970) would be past the topics' retention
  const r = parseKcatLine(kcat);
  return { key: r.key, value: r.value };
}

describe.each(["at-least-once", "exactly-once"] as const)("held changes on Kafka (%s)", (delivery) => {
  const mocks: MockKafka[] = [];
  afterAll(async () => {
    for (const m of mocks) await m.stop();
  });

  it("parks children until their parents arrive on another topic and partition; aggregates a transaction", async () => {
    const mock = await startMockKafka({
      brokers: 1,
      topics: [
        { name: "dbserver1.crm.persons", partitions: 2 },
        { name: "dbserver1.crm.phones", partitions: 2 },
        { name: "dbserver1.inventory.orders", partitions: 1 },
        { name: "dbserver1.inventory.order_lines", partitions: 1 },
        { name: "dbserver1.transaction", partitions: 1 },
      ],
    });
    mocks.push(mock);
    const dir = crmProject({
      top: [`kafka:`, `  brokers: ${mock.bootstrap}`, `delivery: ${delivery}`, "state: sqlite:state.sqlite"],
    });
    const kafka = quietKafka(mock.brokers);
    const phones = Array.from({ length: 20 }, (_, i) => phone(i + 1, 100 + (i % 5), 1_000 + i));
    await withProducer(kafka, async (p) => {
      await p.send({
        topic: "dbserver1.crm.phones",
        messages: phones.map((l) => ({ ...message(l), partition: 1 })),
        acks: -1,
      });
      await p.send({
        topic: "dbserver1.crm.persons",
        messages: [{ ...message(person(999, "Nobody", 900)), partition: 0 }],
        acks: -1,
      });
    });

    const pipeline = await openPipeline(`${dir}/changecast.yaml`);
    expect(sourceTopics(pipeline.config, pipeline.transforms)).toContain("dbserver1.transaction");
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger: pino({ level: "silent" }) });

    // the worker has read the phones (and the one person): nothing of the phones is published yet
    const early = await consumeUntil(kafka, ["persons", "phones"], (all) => all.length >= 1, {
      idleMs: 2_000,
    });
    expect(early.filter((r) => r.topic === "phones")).toEqual([]);

    await withProducer(kafka, async (p) => {
      const persons = [100, 101, 102, 103, 104].map((id, i) => ({
        ...message(person(id, `P${id}`, 2_000 + i)),
        partition: 0,
      }));
      await p.send({ topic: "dbserver1.crm.persons", messages: persons, acks: -1 });
      await p.send({
        topic: "dbserver1.inventory.orders",
        messages: [message(order(1, 77, 3_000, T))],
        acks: -1,
      });
      await p.send({
        topic: "dbserver1.inventory.order_lines",
        messages: [message(line(1, 1, 77, 3_001, T)), message(line(2, 1, 77, 3_002, T))],
        acks: -1,
      });
      const end = txLine(77, 3_003, T, { "inventory.orders": 1, "inventory.order_lines": 2 });
      await p.send({ topic: "dbserver1.transaction", messages: [message(end)], acks: -1 });
    });
    const received = await consumeUntil(
      kafka,
      ["persons", "phones", "order-events"],
      (all) =>
        all.filter((r) => r.topic === "phones").length >= 20 && all.some((r) => r.topic === "order-events"),
      { idleMs: 2_000, timeoutMs: 60_000 },
    );
    controller.abort();
    const stats = await worker;
    await pipeline.close();

    if (process.env.HELD_DEBUG) console.log(stats.summary(), received.map((r) => r.topic).join(","));
    const phoneIds = received.filter((r) => r.topic === "phones").map((r) => r.headers.ce_id);
    expect(phoneIds).toHaveLength(20);
    expect(new Set(phoneIds).size).toBe(20);
    const placed = received.filter((r) => r.topic === "order-events");
    expect(placed).toHaveLength(1);
    expect(placed[0]?.key).toBe("1");
    expect(stats.parked).toBe(20);
    expect(stats.released).toBe(20);
    expect(stats.aggregates).toBe(1);
    expect(stats.balanced).toBe(true);
  }, 180_000);
});
