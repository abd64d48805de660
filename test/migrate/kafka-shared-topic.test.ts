// Migrating an event that shares its topic with another event type, on the mock Kafka cluster: the worker
// publishes CustomerRegistered and CustomerEmailChanged to one topic (4 partitions), CustomerRegistered major 2
// to a topic of its own (6 partitions). A group stopped mid-stream and a group that read nothing switch; both
// keep consuming the old topic for CustomerEmailChanged (the switch filter drops CustomerRegistered there) and
// read CustomerRegistered on the new one — every fact of every type once, by ce_id.
import { afterEach, describe, expect, it } from "vitest";
import { loadSwitchFilter } from "../../src/migrate/filter.js";
import type { MockKafka } from "../infra/mock-kafka.js";
import { EVENT, typedAccounting, V1, V2, withStore, type Project } from "./harness.js";
import {
  cleanUp,
  cli,
  committedSum,
  factsOnTopics,
  onCleanup,
  produceChanges,
  SharedKafkaConsumer,
  SOURCE,
  startMigrationCluster,
  topicEnd,
  waitFor,
} from "./kafka-harness.js";

const REGISTERED = "io.example.customer.CustomerRegistered";
const EMAIL = "io.example.customer.CustomerEmailChanged";

afterEach(cleanUp);

/** Every fact (ce_id → ce_type) on the topics. */
async function factsOn(mock: MockKafka, topics: string[]): Promise<Map<string, string>> {
  return new Map((await factsOnTopics(mock, topics)).map((f) => [f.ceId, f.type]));
}

const committed = committedSum;

async function useFilter(p: Project, consumer: SharedKafkaConsumer): Promise<void> {
  consumer.filter = await withStore(p, (s) => loadSwitchFilter(s.knex, "inventory", EVENT, consumer.group));
}

describe("migrating an event on a shared topic (mock Kafka cluster)", () => {
  it("old 4 partitions (shared) → new 6: a group mid-stream and one that read nothing switch; each fact once", async () => {
    const {
      mock,
      project: p,
      kafka,
      worker,
    } = await startMigrationCluster({ old: 4, new: 6 }, "at-least-once", { old: V1, new: V2 });
    const billing = new SharedKafkaConsumer(kafka, "billing");
    onCleanup(() => billing.stop());
    const crm = new SharedKafkaConsumer(kafka, "crm");
    onCleanup(() => crm.stop());
    const published = async (topic: string, n: number) => {
      await waitFor(`${n} records on ${topic}`, async () => {
        worker.check();
        return (await topicEnd(kafka, topic)) >= n;
      });
      expect(await topicEnd(kafka, topic)).toBe(n);
    };
    for (const g of ["billing", "crm"])
      expect((await cli(p, "migrate", "register-consumer", "--event", EVENT, "--group", g)).code).toBe(0);

    // 300 registrations + 100 e-mail changes before the start; billing reads 250 of them
    const before = await produceChanges(kafka, 1, 301);
    await published(V1, before);
    await billing.start([V1], 250);
    await waitFor("billing processed 250", () => billing.processed.length === 250);
    await billing.stop();

    const started = await cli(p, "migrate", "start", "--event", EVENT);
    expect(started.code, started.err).toBe(0);
    await waitFor("the running worker publishes major 2", () => worker.publishes(2));
    const after = await produceChanges(kafka, 301, 601);
    await published(V1, before + after);
    await published(V2, 300);
    // billing reads on into the dual-published part
    await billing.start([V1], 550);
    await waitFor("billing processed 550", () => billing.processed.length === 550);
    await billing.stop();

    // the history: only CustomerRegistered counts (300 facts), not the e-mail changes beside it
    const notReady = await cli(p, "migrate", "cutover", "--event", EVENT);
    expect(notReady.code).toBe(1);
    expect(notReady.out).toContain(`history: 300 of 600 ${REGISTERED} facts on ${V1} are not on ${V2}`);
    await waitFor("the worker committed every source record", async () => {
      worker.check();
      return (await committed(mock, "changecast.inventory", SOURCE)) === before + after;
    });
    const backfill = await cli(p, "migrate", "backfill", "--event", EVENT);
    expect(backfill.code, backfill.out + backfill.err).toBe(0);
    expect(backfill.out).toContain("300 facts published");

    const b = await cli(p, "migrate", "switch", "--event", EVENT, "--group", "billing");
    expect(b.code, b.out + b.err).toBe(0);
    expect(b.out).toContain(`${V1} (4 partitions) → ${V2} (6 partitions)`);
    expect(b.out).toContain(
      `${V1} is shared: ${before + after - 600} records of other event types stay there`,
    );
    const c = await cli(p, "migrate", "switch", "--event", EVENT, "--group", "crm");
    expect(c.code, c.out + c.err).toBe(0);
    expect(c.out).toContain(`processed on the old topic: 0 ${REGISTERED} facts; pending: 600`);
    await useFilter(p, billing);
    await useFilter(p, crm);

    // both groups consume the old topic (the other types) and the new one while more changes are published
    await billing.start([V1, V2]);
    await crm.start([V1, V2]);
    const more = await produceChanges(kafka, 601, 1001);
    const total = before + after + more;
    await published(V1, total);
    await published(V2, 1000);
    await waitFor("both groups caught up", async () => {
      for (const g of ["billing", "crm"])
        if ((await committed(mock, g, V1)) !== total || (await committed(mock, g, V2)) !== 1000) return false;
      return true;
    });
    await billing.stop();
    await crm.stop();

    const expected = await factsOn(mock, [V1, V2]);
    expect(expected.size).toBe(total);
    for (const consumer of [billing, crm]) {
      const result = typedAccounting(consumer.processed, expected);
      expect(result.duplicates, consumer.group).toEqual([]);
      expect(result.missing, consumer.group).toEqual([]);
      expect(result.extra, consumer.group).toEqual([]);
      expect(result.byType).toEqual({ [REGISTERED]: 1000, [EMAIL]: total - 1000 });
      expect(consumer.filter.remaining).toBe(0);
      expect(consumer.processed.filter((f) => f.topic === V2).every((f) => f.type === REGISTERED)).toBe(true);
    }
    expect(crm.processed.filter((f) => f.type === REGISTERED && f.topic === V1)).toEqual([]);

    const ready = await cli(p, "migrate", "cutover", "--event", EVENT);
    expect(ready.code, ready.out).toBe(0);
    expect(ready.out).toContain(`history: all 1000 ${REGISTERED} facts on ${V1} are on ${V2}`);
    expect((await worker.stop()).balanced).toBe(true);
  }, 110_000);
});
