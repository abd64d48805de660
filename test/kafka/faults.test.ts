// Injected faults on the mock cluster: failing Produce and Fetch requests, and the leader of a source and an
// output partition going down and coming back while the worker runs. Nothing may be lost (accounting by
// ce_id) and the worker must carry on by itself; duplicates are allowed in at-least-once and reported.
import { afterAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { ApiKey, KafkaErrorCode, startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  account,
  capturingLogger,
  consumeUntil,
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

const N = 30_000;

const CASES = KAFKA_CLIENTS_UNDER_TEST.flatMap((client) =>
  (["at-least-once", "exactly-once"] as const).map((delivery) => ({ client, delivery })),
);

describe.each(CASES)("faults while the worker runs ($client, $delivery)", ({ client, delivery }) => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("loses nothing through request errors and a leader going down, and recovers", async () => {
    mock = await startMockKafka({
      brokers: 3,
      topics: [
        { name: SOURCE_TOPIC, partitions: 4 },
        { name: EVENT_TOPIC, partitions: 4 },
      ],
    });
    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery, client });
    const expected = await expectedItemIds(files.config, 0, N);
    const kafka = quietKafka(mock.brokers);
    await produceItems(kafka, 0, N);

    const admin = kafka.admin();
    await admin.connect();
    const leaderOf = async (topic: string) =>
      (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.find(
        (p) => p.partitionId === 0,
      )!.leader;
    const sourceLeader = await leaderOf(SOURCE_TOPIC);
    const outputLeader = await leaderOf(EVENT_TOPIC);
    await admin.disconnect();

    // the worker's first produce and fetch requests fail, with errors Kafka clients must retry
    await mock.requestErrors(ApiKey.Produce, [
      KafkaErrorCode.NotLeaderForPartition,
      KafkaErrorCode.RequestTimedOut,
      KafkaErrorCode.NotEnoughReplicas,
      KafkaErrorCode.Disconnect,
      KafkaErrorCode.NotEnoughReplicasAfterAppend,
    ]);
    await mock.requestErrors(ApiKey.Fetch, [
      KafkaErrorCode.NotLeaderForPartition,
      KafkaErrorCode.Disconnect,
      KafkaErrorCode.UnknownTopicOrPartition,
    ]);

    const pipeline = await openPipeline(files.config, { stateUrl: "sqlite::memory:" });
    const log = capturingLogger();
    const controller = new AbortController();
    // requests the mock answers by dropping the connection are given up after 5 s instead of 30 s
    const worker = runKafkaWorker(pipeline, {
      signal: controller.signal,
      logger: log.logger,
      env: { KAFKA_REQUEST_TIMEOUT_MS: "5000" },
    });
    await waitFor("the worker to join", () => lastAssignment(log.lines) !== null);

    for (const broker of [...new Set([sourceLeader, outputLeader])]) {
      await mock.brokerDown(broker);
      await new Promise((r) => setTimeout(r, 2_000));
      await mock.brokerUp(broker);
    }
    // more faults mid-stream, after the reconnects
    await mock.requestErrors(ApiKey.Produce, [
      KafkaErrorCode.NotLeaderForPartition,
      KafkaErrorCode.Disconnect,
    ]);
    await mock.requestErrors(ApiKey.OffsetCommit, [
      KafkaErrorCode.CoordinatorNotAvailable,
      KafkaErrorCode.NotCoordinator,
    ]);

    const received = await consumeUntil(
      kafka,
      [EVENT_TOPIC],
      (all) => account(all, expected).missing.length === 0,
      {
        idleMs: 1_500,
        timeoutMs: 150_000,
      },
    );
    controller.abort();
    const stats = await worker;
    await pipeline.close();

    const tally = account(received, expected);
    console.log(
      `[faults ${client} ${delivery}] ${received.length} records, ${tally.distinct} distinct ce_id, ${tally.duplicates} duplicates`,
    );
    expect(tally.missing).toEqual([]);
    expect(tally.unexpected).toBe(0);
    expect(stats.balanced).toBe(true);
    expect(stats.deadLetters).toBe(0);
  }, 170_000);
});
