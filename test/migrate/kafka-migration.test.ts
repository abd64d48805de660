// The dual-publish migrator on the mock Kafka cluster: the Kafka worker publishes major 1, then (after
// `migrate start`) majors 1 and 2; a reference consumer group processes v1, stops mid-stream, is moved by
// `changecast migrate switch` (the CLI, as a child process) and resumes on v2 from the committed offsets —
// every fact processed once, none skipped. Old and new topics with different partition counts (the switch
// filter) and with equal ones (exact by offsets alone).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadSwitchFilter } from "../../src/migrate/filter.js";
import { createSwitchFilter } from "../../src/migrate/switch.js";
import type { MockKafka } from "../infra/mock-kafka.js";
import { EVENT, V1, V2, withStore } from "./harness.js";
import {
  cleanUp,
  cli,
  committedSum,
  onCleanup,
  startMigrationCluster,
  kafkaAccounting,
  KafkaReferenceConsumer,
  produceInserts,
  testKafka,
  topicEnd,
  waitFor,
  type RunningWorker,
} from "./kafka-harness.js";

afterEach(cleanUp);

async function setUp(partitions: { old: number; new: number }, delivery: "exactly-once" | "at-least-once") {
  const { mock, project, kafka, worker } = await startMigrationCluster(partitions, delivery, {
    old: V1,
    new: V2,
  });
  const consumer = new KafkaReferenceConsumer(kafka, "billing");
  onCleanup(() => consumer.stop());
  return { mock, project, kafka, worker, consumer };
}

async function waitPublished(worker: RunningWorker, mock: MockKafka, topic: string, n: number) {
  const kafka = testKafka(mock.brokers);
  await waitFor(`${n} records on ${topic}`, async () => {
    worker.check();
    return (await topicEnd(kafka, topic)) >= n;
  });
  expect(await topicEnd(kafka, topic)).toBe(n);
}

describe("migrate on Kafka (mock cluster)", () => {
  it("old 4 partitions → new 6: a group stopped mid-stream switches (with the filter where needed), each fact once", async () => {
    const { mock, project: p, kafka, worker, consumer } = await setUp({ old: 4, new: 6 }, "at-least-once");
    expect((await cli(p, "migrate", "register-consumer", "--event", EVENT, "--group", "billing")).code).toBe(
      0,
    );

    // major 1 only: the group processes all of it
    await produceInserts(kafka, 1, 301);
    await waitPublished(worker, mock, V1, 300);
    await consumer.start(V1, 1);
    await waitFor("the group processed major 1", () => consumer.processed.length === 300);
    await consumer.stop();

    const started = await cli(p, "migrate", "start", "--event", EVENT);
    expect(started.code, started.err).toBe(0);
    await waitFor("the running worker publishes major 2", () => worker.publishes(2));
    await produceInserts(kafka, 301, 1301);
    await waitPublished(worker, mock, V2, 1000);
    expect(await topicEnd(kafka, V1)).toBe(1300);

    // the group comes back to a backlog, processes 500 more facts partition by partition, and stays a member
    await consumer.start(V1, 1, 800);
    await waitFor("the group processed 800 facts", () => consumer.processed.length === 800);
    const refused = await cli(p, "migrate", "switch", "--event", EVENT, "--group", "billing");
    expect(refused.code, refused.out).toBe(1);
    expect(refused.err).toMatch(
      /group billing not switched: group billing has (other active members|1 other member)/,
    );
    expect(await committedSum(mock, "billing", V2)).toBe(0);
    await consumer.stop();
    expect(consumer.processed.length).toBe(800);

    // more changes are published while the group switches
    const more = produceInserts(kafka, 1301, 2301);
    const filterFile = join(p.dir, "billing-filter.json");
    const switched = await cli(
      p,
      ...["migrate", "switch", "--event", EVENT, "--group", "billing", "--filter-file", filterFile],
    );
    expect(switched.code, switched.out + switched.err).toBe(0);
    expect(switched.out).toContain(`${V1} (4 partitions) → ${V2} (6 partitions)`);
    expect(switched.out).toContain(
      "processed on the old topic: 800 io.example.customer.CustomerRegistered facts",
    );
    expect(switched.out).toContain("membership not known yet (the broker does not implement DescribeGroups)");
    // Usually the group's progress on the 4 old partitions cannot be one offset per new partition (filter), but
    // when kafkajs happened to hand the consumer its batches in source order it can (exact). Either way the
    // plan must match its filter and end with each fact once; the filter case alone is covered
    // deterministically in switch.test.ts.
    expect(switched.out).toMatch(/case: (filter|exact)/);
    const filterCase = switched.out.includes("case: filter");
    expect(switched.out).toContain("offsets committed as the only member of group billing");
    const skipIds = (JSON.parse(readFileSync(filterFile, "utf8")) as { skipIds: string[] }).skipIds;
    if (filterCase) expect(skipIds.length).toBeGreaterThan(0);
    else expect(skipIds).toEqual([]);
    const stored = await withStore(p, (s) => loadSwitchFilter(s.knex, "inventory", EVENT, "billing"));
    expect(stored.remaining).toBe(skipIds.length);
    const again = await cli(p, "migrate", "switch", "--event", EVENT, "--group", "billing");
    expect(again.out).toContain("already switched");
    await more;

    // the group resumes on major 2 from the committed offsets, through the switch filter
    consumer.filter = createSwitchFilter(skipIds);
    await consumer.start(V2, 2);
    await waitPublished(worker, mock, V2, 2000);
    await waitFor(
      "the group caught up on major 2",
      async () => (await committedSum(mock, "billing", V2)) === 2000,
    );
    await consumer.stop();

    expect(consumer.filter.remaining).toBe(0);
    expect(kafkaAccounting(consumer.processed, 2300)).toEqual({ duplicates: [], missing: [], extra: [] });
    expect(consumer.processed.length).toBe(2300);
    const onV2 = consumer.processed.filter((f) => f.topic === V2);
    expect(onV2.length).toBe(1500);
    expect(onV2.every((f) => typeof f.customerId === "string")).toBe(true);
    expect(
      consumer.processed.filter((f) => f.topic === V1).every((f) => typeof f.customerId === "number"),
    ).toBe(true);
    const status = await cli(p, "migrate", "status", "--event", EVENT);
    expect(status.out).toMatch(
      filterCase
        ? /billing\s+800\s+1500\s+2000\s+0\s+yes \(filter, \d+ to skip\)/
        : /billing\s+800\s+1500\s+2000\s+0\s+yes \(exact\)/,
    );
    const stats = await worker.stop();
    expect(stats.balanced).toBe(true);
  }, 150_000);

  it("equal partition counts (4 → 4): the switch is exact by offsets alone", async () => {
    const { project: p, kafka, worker, consumer } = await setUp({ old: 4, new: 4 }, "exactly-once");
    // exactly-once: transaction markers take offsets, so progress is counted in facts, not high watermarks
    await produceInserts(kafka, 1, 201);
    await consumer.start(V1, 1, 200);
    await waitFor("the group processed major 1", () => consumer.processed.length === 200);

    expect((await cli(p, "migrate", "start", "--event", EVENT)).code).toBe(0);
    await waitFor("the running worker publishes major 2", () => worker.publishes(2));
    // the group consumes while the worker publishes, and stops after 600 facts
    consumer.setLimit(600);
    await produceInserts(kafka, 201, 1201);
    await waitFor("the group processed 600 facts", () => consumer.processed.length === 600);
    await consumer.stop();

    const more = produceInserts(kafka, 1201, 1701);
    const switched = await cli(p, "migrate", "switch", "--event", EVENT, "--group", "billing");
    expect(switched.code, switched.out + switched.err).toBe(0);
    expect(switched.out).toContain(`${V1} (4 partitions) → ${V2} (4 partitions)`);
    expect(switched.out).toContain("case: exact");
    expect(switched.out).not.toContain("overlap facts to skip");
    await more;

    const stored = await withStore(p, (s) => loadSwitchFilter(s.knex, "inventory", EVENT, "billing"));
    expect(stored.remaining).toBe(0);
    await consumer.start(V2, 2);
    await waitFor("the group processed every fact", () => {
      worker.check();
      return consumer.processed.length >= 1700;
    });
    await consumer.stop();

    expect(kafkaAccounting(consumer.processed, 1700)).toEqual({ duplicates: [], missing: [], extra: [] });
    expect(consumer.processed.length).toBe(1700);
    expect(consumer.processed.filter((f) => f.topic === V2).length).toBe(1100);
    expect((await worker.stop()).balanced).toBe(true);
  }, 120_000);
});
