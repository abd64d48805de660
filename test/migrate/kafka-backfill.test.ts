// `changecast migrate backfill` on the mock Kafka cluster: the Kafka worker publishes major 1 for N changes, then
// (after `migrate start`) both majors for M more; backfill re-derives the N missing major-2 facts from the source
// topic — an interrupted run and the CLI after it publish each of them once, a second CLI run publishes none —
// and the new topic ends up with every fact exactly once, with the ce_ids of major 1.
import { afterEach, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { backfillKafka } from "../../src/migrate/kafka-backfill.js";
import { kafkaClientConfig } from "../../src/kafka/kafka-client.js";
import type { MockKafka } from "../infra/mock-kafka.js";
import { EVENT, V1, V2, withStore } from "./harness.js";
import { MigrationStore } from "../../src/migrate/state.js";
import { KafkaTopicAccess } from "../../src/migrate/topics.js";
import {
  cleanUp,
  cli,
  committedSum,
  factsOnTopics,
  GROUP_TIMING,
  produceInserts,
  SOURCE,
  startMigrationCluster,
  topicEnd,
  waitFor,
} from "./kafka-harness.js";

afterEach(cleanUp);

const N = 300;
const M = 200;
const TIMING = {
  sessionTimeout: Number(GROUP_TIMING.KAFKA_SESSION_TIMEOUT_MS),
  heartbeatInterval: Number(GROUP_TIMING.KAFKA_HEARTBEAT_INTERVAL_MS),
};

/** The ce_ids on a topic, in partition/offset order (duplicates kept). */
async function ceIds(mock: MockKafka, topic: string): Promise<string[]> {
  return (await factsOnTopics(mock, [topic])).map((f) => f.ceId);
}

/** Sum of the worker group's committed offsets on the source topic. */
const workerCommitted = (mock: MockKafka) => committedSum(mock, "changecast.inventory", SOURCE);

describe("migrate backfill on Kafka (mock cluster)", () => {
  it("re-derives the history before the start once; a re-run publishes nothing", async () => {
    const {
      mock,
      project: p,
      kafka,
      worker,
    } = await startMigrationCluster({ old: 4, new: 4 }, "at-least-once", { old: V1, new: V2 });
    const published = async (topic: string, n: number) => {
      await waitFor(`${n} records on ${topic}`, async () => {
        worker.check();
        return (await topicEnd(kafka, topic)) >= n;
      });
      expect(await topicEnd(kafka, topic)).toBe(n);
    };

    // N changes: major 1 only
    await produceInserts(kafka, 1, N + 1);
    await published(V1, N);
    const before = await ceIds(mock, V1);
    expect(new Set(before).size).toBe(N);

    // not started: refused
    const early = await cli(p, "migrate", "backfill", "--event", EVENT);
    expect(early.code).toBe(1);
    expect(early.err).toContain("needs `migrate start` first");

    const started = await cli(p, "migrate", "start", "--event", EVENT);
    expect(started.code, started.err).toBe(0);
    await waitFor("the running worker publishes major 2", () => worker.publishes(2));
    // M more: both majors
    await produceInserts(kafka, N + 1, N + M + 1);
    await published(V2, M);
    await published(V1, N + M);
    await waitFor("the worker committed every source record", async () => {
      worker.check();
      return (await workerCommitted(mock)) === N + M;
    });
    const live = await ceIds(mock, V2);
    expect(live.filter((id) => before.includes(id))).toEqual([]);

    // a run interrupted after its first batches (as by a crash): what it published stays, the rest follows
    const pipeline = await openPipeline(p.config);
    const access = await KafkaTopicAccess.open({ brokers: mock.brokers, clientId: "backfill-test" });
    const controller = new AbortController();
    let partial;
    try {
      partial = await backfillKafka({
        config: pipeline.config,
        registry: pipeline.registry,
        transforms: pipeline.transforms,
        event: EVENT,
        major: 2,
        client: kafkaClientConfig({ brokers: mock.brokers, clientId: "backfill-test", env: {} }),
        access,
        timing: TIMING,
        progressEvery: 1,
        onProgress: () => controller.abort(),
        signal: controller.signal,
      });
    } finally {
      await access.close();
      await pipeline.close();
    }
    expect(partial.done).toBe(false);
    expect(partial.read).toBeGreaterThan(0);
    expect(partial.read).toBeLessThan(N + M);
    expect(await topicEnd(kafka, V2)).toBe(M + partial.published);

    const first = await cli(p, "migrate", "backfill", "--event", EVENT);
    expect(first.code, first.out + first.err).toBe(0);
    expect(first.out).toMatch(
      new RegExp(
        `backfill: ${N + M}/${N + M} source records \\(100%\\), ${N - partial.published} published, ${M + partial.published} already on ${V2.replace(/\./g, "\\.")}, ETA 0 s`,
      ),
    );
    expect(first.out).toContain(
      `backfill done: ${N + M} source records read, ${N - partial.published} facts published`,
    );
    expect(first.out).toContain(`${SOURCE}[0]: offsets 0..`);

    const again = await cli(p, "migrate", "backfill", "--event", EVENT);
    expect(again.code, again.out + again.err).toBe(0);
    expect(again.out).toContain(`${N + M} source records read, 0 facts published, ${N + M} already present`);

    // the new topic: every fact once; the backfilled ones carry the ce_ids of major 1 for those changes
    const v2 = await ceIds(mock, V2);
    expect(v2.length).toBe(N + M);
    expect(new Set(v2).size).toBe(N + M);
    expect(new Set(v2)).toEqual(new Set(await ceIds(mock, V1)));
    const backfilled = v2.filter((id) => !live.includes(id));
    expect(new Set(backfilled)).toEqual(new Set(before));

    const row = await withStore(p, async (s) =>
      (await (await MigrationStore.open(s.knex, "inventory")).migrations(EVENT)).find((m) => m.toMajor === 2),
    );
    expect(row?.backfill).toBe("done");
    expect(row?.backfillProgress).toContain("0 facts published");
    const status = await cli(p, "migrate", "status", "--event", EVENT);
    expect(status.out).toContain("backfill done");
    const ready = await cli(p, "migrate", "cutover", "--event", EVENT);
    expect(ready.out).toContain(
      `history: all ${N + M} io.example.customer.CustomerRegistered facts on ${V1} are on ${V2}`,
    );
    expect(ready.out).toContain("backfill done");

    expect((await worker.stop()).balanced).toBe(true);
  }, 150_000);
});
