// The kill loop (shared by kill-loop-*.test.ts): the worker CLI as a child process, SIGKILLed at random moments
// ≥ 20 times during a 100k-record stream and restarted each time; then one last run to the end. Accounting by
// ce_id: every expected id present, none unexpected; duplicates counted and bounded.
//
// Sizes: the mock keeps at most 5 MB per partition log and silently drops the oldest records beyond that
// (helpers.ts, MOCK_PARTITION_LOG_BYTES). 100k items are ~37 MB of JSON and ~26 MB of events, so the source is
// produced gzip-compressed (~0.6 MB per partition) and the event topic has 16 partitions (~1.7 MB each); the
// test checks that both logs still start at offset 0. (The first version of this test wrote 9 MB per source
// partition: the mock dropped the oldest 42 040 items before any worker read them, and the worker, starting
// "from the beginning", began at the mock's new log start. That was the "57 960 of 100 000" failure.)
import { expect } from "vitest";
import { KAFKA_BATCH_SIZE } from "../../src/cli/run.js";
import type { KafkaClientName } from "../../src/config/schema.js";
import { startMockKafka } from "../infra/mock-kafka.js";
import {
  account,
  consumeUntil,
  EVENT_TOPIC,
  expectedItemIds,
  partitionReport,
  produceItems,
  quietKafka,
  SOURCE_TOPIC,
  syntheticPipeline,
} from "./helpers.js";
import { expectCleanExits, runToTheEnd, sleep, Workers } from "./worker-process.js";

const N = 100_000;
const KILLS = 20;
const EVENT_PARTITIONS = 16;

export async function killLoop(
  delivery: "at-least-once" | "exactly-once",
  client: KafkaClientName = "kafkajs",
): Promise<void> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: 4 },
      { name: EVENT_TOPIC, partitions: EVENT_PARTITIONS },
    ],
  });
  let workers: Workers | undefined;
  try {
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery, client });
    workers = new Workers(files.config, mock.bootstrap);
    const expected = await expectedItemIds(files.config, 0, N);
    const kafka = quietKafka(mock.brokers);
    // the stream: the first half is a backlog, the second half arrives while the worker is being killed
    await produceItems(kafka, 0, N / 2, { gzip: true });
    const streaming = produceItems(kafka, N / 2, N, { gzip: true, chunk: 1_000, pauseMs: 1_200 });
    let kills = 0;
    for (; kills < KILLS; kills++) {
      const worker = workers.start();
      // random moments after the worker joined the group (mid-batch, mid-commit, mid-transaction); every
      // fifth one at a random moment of its start-up or join instead
      if (kills % 5 !== 4) await worker.joined(20_000);
      await sleep(Math.random() * (kills % 5 === 4 ? 4_000 : 2_000));
      await worker.kill();
    }
    await streaming;
    const { result: received, exits } = await runToTheEnd(workers, 1, () =>
      consumeUntil(
        kafka,
        [EVENT_TOPIC],
        (all) => all.length >= expected.size && account(all, expected).missing.length === 0,
        { idleMs: 2_000, timeoutMs: 150_000 },
      ),
    );

    const tally = account(received, expected);
    const redeliveries = workers.redeliveries();
    const source = await partitionReport(kafka, SOURCE_TOPIC, "changecast.items");
    const events = await partitionReport(kafka, EVENT_TOPIC);
    const report =
      `[kill loop ${client} ${delivery}] ${kills} kills; ${received.length} records, ${tally.distinct} distinct ce_id, ` +
      `${tally.missing.length} missing, ${tally.unexpected} unexpected, ${tally.duplicates} duplicates ` +
      `(${(tally.duplicates / kills).toFixed(0)} per kill; ${redeliveries} batches given up or aborted); ` +
      `${workers.summary()}\n` +
      `source partitions: ${JSON.stringify(source)}`;
    console.log(report);
    expect(kills).toBeGreaterThanOrEqual(20);
    // the mock dropped nothing (else "missing" would be the mock's retention, not the worker)
    expect(source.every((p) => p.low === "0") && events.every((p) => p.low === "0"), report).toBe(true);
    // every source record was committed
    expect(
      source.every((p) => p.committed === p.high),
      report,
    ).toBe(true);
    expect(tally.missing.length, report).toBe(0);
    expect(tally.unexpected, report).toBe(0);
    // A kill or a given-up batch repeats at most the one worker batch (KAFKA_BATCH_SIZE records, one event
    // each) that was written but whose offsets were not stored. Exactly-once on the mock: sendOffsets stores
    // nothing there, so only the consumer commit after the transaction persists offsets, and a kill between
    // the transaction commit and that commit republishes the batch; the mock also shows the records of
    // aborted transactions (no read_committed). On Kafka with a read_committed reader these are zero.
    expect(tally.duplicates, report).toBeLessThanOrEqual((kills + redeliveries) * KAFKA_BATCH_SIZE);
    expectCleanExits(workers, exits);
  } finally {
    workers?.killAll();
    await mock.stop();
  }
}
