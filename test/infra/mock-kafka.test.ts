import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type EachMessagePayload,
  type Producer,
} from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiKey, KafkaErrorCode, startMockKafka, type MockKafka } from "./mock-kafka.js";

const GROUP_FORM_MS = 60_000;
const GROUP_TEST_TIMEOUT_MS = 150_000;
const KAFKAJS_LOG =
  process.env["KAFKAJS_LOG"] === "1"
    ? logLevel.INFO
    : process.env["KAFKAJS_LOG"] === "2"
      ? logLevel.DEBUG
      : logLevel.NOTHING;

interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: string;
  member: string;
}

describe("librdkafka mock cluster driven through kafkajs", () => {
  let mock: MockKafka;
  let kafka: Kafka;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    mock = await startMockKafka({ brokers: 3, topics: [{ name: "orders", partitions: 4 }] });
    kafka = new Kafka({
      clientId: "infra-test",
      brokers: mock.brokers,
      logLevel: KAFKAJS_LOG,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
      connectionTimeout: 1000,
      requestTimeout: 10_000,
    });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    // A failed fault-injection test must not leave brokers down or errors queued for the next one.
    for (let id = 1; id <= mock.brokers.length; id++) await mock.brokerUp(id);
    for (const key of Object.values(ApiKey)) await mock.clearRequestErrors(key);
  });

  afterAll(async () => {
    await mock?.stop();
  });

  const producer = async (opts: { transactionalId?: string } = {}): Promise<Producer> => {
    const p = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(opts.transactionalId ? { transactionalId: opts.transactionalId } : {}),
    });
    await p.connect();
    cleanups.push(() => p.disconnect());
    return p;
  };

  /** Starts a consumer in `groupId`; resolves once it has joined with a non-empty assignment. */
  const consumer = async (
    groupId: string,
    topic: string,
    sink: Received[],
    opts: { readUncommitted?: boolean; metadataMaxAge?: number } = {},
  ): Promise<{ consumer: Consumer; assigned: () => number[] }> => {
    const c = kafka.consumer({
      groupId,
      // The mock holds a JoinGroup to a non-empty group for sessionTimeout - 1 s: keep it short.
      sessionTimeout: 6_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
      readUncommitted: opts.readUncommitted ?? false,
      ...(opts.metadataMaxAge !== undefined ? { metadataMaxAge: opts.metadataMaxAge } : {}),
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    let assignment: number[] = [];
    let memberId = "";
    c.on(c.events.GROUP_JOIN, (e) => {
      memberId = e.payload.memberId;
      assignment = e.payload.memberAssignment[topic] ?? [];
    });
    await c.connect();
    cleanups.push(() => c.disconnect());
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      eachMessage: async ({ topic: t, partition, message }: EachMessagePayload) => {
        sink.push({
          topic: t,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? "",
          value: message.value?.toString() ?? "",
          member: memberId,
        });
      },
    });
    return { consumer: c, assigned: () => assignment };
  };

  const waitFor = async (what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const messages = (prefix: string, n: number): { key: string; value: string }[] =>
    Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, value: JSON.stringify({ i, prefix }) }));

  it("exposes one address per broker", () => {
    expect(mock.brokers).toHaveLength(3);
    for (const b of mock.brokers) expect(b).toMatch(/^[\w.-]+:\d+$/);
    expect(mock.bootstrap).toBe(mock.brokers.join(","));
  });

  let shareAttempt = 0;
  it(
    "idempotent producer + 2-member consumer group share a 4-partition topic",
    // as for the handover below: the mock's coordinator sometimes never settles a 2-member group on a busy
    // machine (seen once in a fresh-clone CI run: no 2/2 split within 60 s); a fresh topic and group per attempt
    { timeout: GROUP_TEST_TIMEOUT_MS, retry: 2 },
    async () => {
      const topic = `share-${++shareAttempt}`;
      await mock.createTopic(topic, 4);
      const received: Received[] = [];
      const a = await consumer(`g-${topic}`, topic, received);
      const b = await consumer(`g-${topic}`, topic, received);
      // Slow on a loaded machine: each join to a non-empty group takes sessionTimeout - 1 s in the mock.
      await waitFor(
        "both members to own 2 partitions each",
        () => a.assigned().length === 2 && b.assigned().length === 2,
        GROUP_FORM_MS,
      );
      expect([...a.assigned(), ...b.assigned()].sort()).toEqual([0, 1, 2, 3]);

      const p = await producer();
      const batch = messages("order", 400);
      for (let i = 0; i < batch.length; i += 50) {
        await p.send({ topic, messages: batch.slice(i, i + 50) });
      }
      await waitFor("400 messages", () => received.length >= 400);
      await new Promise((r) => setTimeout(r, 300));

      expect(received).toHaveLength(400); // no duplicates
      expect(new Set(received.map((m) => m.key)).size).toBe(400);
      expect(new Set(received.map((m) => m.partition))).toEqual(new Set([0, 1, 2, 3]));
      expect(new Set(received.map((m) => m.member)).size).toBe(2);
      // Per-partition order is preserved.
      for (let part = 0; part < 4; part++) {
        const offsets = received.filter((m) => m.partition === part).map((m) => BigInt(m.offset));
        expect(offsets).toEqual([...offsets].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      }
    },
  );

  let handoverAttempt = 0;
  it(
    "a member that disconnects leaves the group; the other takes over all partitions",
    // the mock's group coordinator occasionally never settles a 2-member group on a busy machine: retry
    { timeout: GROUP_TEST_TIMEOUT_MS, retry: 2 },
    async () => {
      const topic = `handover-${++handoverAttempt}`; // a fresh topic and group per attempt
      await mock.createTopic(topic, 4);
      const received: Received[] = [];
      const a = await consumer(`g-${topic}`, topic, received);
      const b = await consumer(`g-${topic}`, topic, received);
      await waitFor("2/2 split", () => a.assigned().length === 2 && b.assigned().length === 2, GROUP_FORM_MS);
      await b.consumer.disconnect(); // LeaveGroup (capped at v2 by the launcher so the mock understands it)
      // (speed is not asserted here: without the LeaveGroup cap the handover waits for b's session to expire)
      await waitFor("a owns all 4 partitions", () => a.assigned().length === 4, GROUP_FORM_MS);
      const p = await producer();
      await p.send({ topic, messages: messages("h", 40) });
      await waitFor("40 messages", () => received.length >= 40);
    },
  );

  it("consumer group offsets are committed and fetched back", async () => {
    await mock.createTopic("commits", 4);
    const p = await producer();
    await p.send({ topic: "commits", messages: messages("c", 40) });
    const received: Received[] = [];
    await consumer("g-commit", "commits", received);
    await waitFor("40 messages", () => received.length >= 40);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    let total = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const offsets = await admin.fetchOffsets({ groupId: "g-commit", topics: ["commits"] });
      total = (offsets[0]?.partitions ?? []).reduce((s, part) => s + Math.max(0, Number(part.offset)), 0);
      if (total === 40) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(total).toBe(40);
  });

  it("transactional producer: send + sendOffsets + commit succeed; committed records are readable", async () => {
    await mock.createTopic("tx-out", 4);
    const p = await producer({ transactionalId: "tx-1" });
    const tx = await p.transaction();
    await tx.send({ topic: "tx-out", messages: messages("tx", 20) });
    await tx.sendOffsets({
      consumerGroupId: "g-tx-source",
      topics: [{ topic: "orders", partitions: [{ partition: 0, offset: "7" }] }],
    });
    await tx.commit();

    // A second transaction on the same producer works too (epoch/sequence handling).
    const tx2 = await p.transaction();
    await tx2.send({ topic: "tx-out", messages: messages("tx2", 5) });
    await tx2.commit();

    const received: Received[] = [];
    await consumer("g-tx-read", "tx-out", received); // read_committed
    await waitFor("25 committed messages", () => received.length >= 25);
    expect(new Set(received.map((m) => m.key)).size).toBe(25);
  });

  it("mock limitation: sendOffsets (TxnOffsetCommit) stores nothing", async () => {
    // Relies on the transaction of the previous test having committed offset 7 for g-tx-source.
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const offsets = await admin.fetchOffsets({ groupId: "g-tx-source", topics: ["orders"] });
    const p0 = offsets[0]?.partitions.find((x) => x.partition === 0);
    // A real broker would return "7". If this fails, the mock gained support: update docs/testing.md.
    expect(p0?.offset).toBe("-1");
  });

  it("mock limitation: read_committed consumers still see aborted records", async () => {
    await mock.createTopic("tx-abort", 1);
    const p = await producer({ transactionalId: "tx-abort-1" });
    const tx = await p.transaction();
    await tx.send({ topic: "tx-abort", messages: messages("aborted", 3) });
    await tx.abort();
    const tx2 = await p.transaction();
    await tx2.send({ topic: "tx-abort", messages: messages("committed", 2) });
    await tx2.commit();

    const received: Received[] = [];
    await consumer("g-abort", "tx-abort", received); // read_committed
    await waitFor("committed messages", () => received.some((m) => m.key === "committed-1"));
    await new Promise((r) => setTimeout(r, 500));
    const keys = received.map((m) => m.key);
    expect(keys).toContain("committed-0");
    // A real broker would hide these. If this fails, the mock gained support: update docs/testing.md.
    expect(keys).toContain("aborted-0");
  });

  const leaderOf = async (topic: string, partition: number): Promise<number> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const leader = meta.topics[0]?.partitions.find((x) => x.partitionId === partition)?.leader;
      if (leader === undefined || leader < 1) throw new Error(`no leader for ${topic}/${partition}`);
      return leader;
    } finally {
      await admin.disconnect();
    }
  };

  /**
   * The log holds each message exactly once (idempotent producer, no loss). The consumer side is
   * at-least-once: if the group coordinator was the broker taken down, kafkajs rejoins and re-reads
   * from the last committed offset, so records may be delivered twice.
   */
  const expectLogOnceEach = (received: Received[], n: number): void => {
    const offsetByKey = new Map<string, Set<string>>();
    for (const m of received) offsetByKey.set(m.key, (offsetByKey.get(m.key) ?? new Set()).add(m.offset));
    expect(offsetByKey.size).toBe(n);
    for (const offsets of offsetByKey.values()) expect(offsets.size).toBe(1);
    expect(new Set(received.map((m) => m.offset)).size).toBe(n);
  };

  const keysOf = (prefix: string, n: number): { key: string; value: string; partition: number }[] =>
    messages(prefix, n).map((m) => ({ ...m, partition: 0 }));

  it("broker down then up (leader not moved): producer retries until it is back, consumer resumes", async () => {
    await mock.createTopic("outage", 4);
    const leader = await leaderOf("outage", 0);
    const received: Received[] = [];
    // Without a leader change kafkajs only notices the broker is back on its next metadata refresh;
    // a short metadataMaxAge makes the consumer resume quickly (real clusters move the leader instead).
    await consumer("g-outage", "outage", received, { metadataMaxAge: 1000 });
    const p = await producer();
    await p.send({ topic: "outage", messages: keysOf("before", 1) });
    await waitFor("first message", () => received.length >= 1);

    await mock.brokerDown(leader);
    let settled = false;
    const pending = p
      .send({ topic: "outage", messages: keysOf("during", 10) })
      .finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe(false); // the leader is unreachable: the send is being retried
    await mock.brokerUp(leader);
    await pending;
    await p.send({ topic: "outage", messages: keysOf("after", 10) });

    await waitFor("21 messages", () => received.length >= 21);
    await new Promise((r) => setTimeout(r, 300));
    expectLogOnceEach(received, 21);
  });

  it("controlled leader failover and failback: producer and consumer follow the leader", async () => {
    await mock.createTopic("failover", 4);
    const leader = await leaderOf("failover", 0);
    const other = (leader % 3) + 1;
    const received: Received[] = [];
    await consumer("g-failover", "failover", received); // default metadataMaxAge (5 min)
    const p = await producer();
    await p.send({ topic: "failover", messages: keysOf("before", 1) });
    await waitFor("first message", () => received.length >= 1);

    // Controlled shutdown (rolling restart): leadership moves to a live replica, then the broker stops.
    // (For an uncontrolled crash where the dead broker stays leader, see the previous test.)
    await mock.setLeader("failover", 0, other);
    await mock.brokerDown(leader);
    await p.send({ topic: "failover", messages: keysOf("during", 10) });
    await waitFor("11 messages after failover", () => received.length >= 11);

    // Broker returns, preferred leader election moves the partition back.
    await mock.brokerUp(leader);
    await mock.setLeader("failover", 0, leader);
    await p.send({ topic: "failover", messages: keysOf("after", 10) });

    await waitFor("21 messages", () => received.length >= 21);
    await new Promise((r) => setTimeout(r, 300));
    expectLogOnceEach(received, 21);
    expect(await leaderOf("failover", 0)).toBe(leader);
  });

  it("retriable errors injected on Produce are retried without duplicates", async () => {
    await mock.createTopic("flaky", 1);
    const p = await producer();
    await p.send({ topic: "flaky", messages: messages("warmup", 1) });
    await mock.requestErrors(ApiKey.Produce, [
      KafkaErrorCode.NotLeaderForPartition,
      KafkaErrorCode.RequestTimedOut,
      KafkaErrorCode.NotEnoughReplicas,
    ]);
    const started = Date.now();
    await p.send({ topic: "flaky", messages: messages("retried", 5) });
    const tookMs = Date.now() - started;

    const received: Received[] = [];
    await consumer("g-flaky", "flaky", received);
    await waitFor("6 messages", () => received.length >= 6);
    await new Promise((r) => setTimeout(r, 300));
    expect(received.map((m) => m.key)).toEqual(["warmup-0", ...messages("retried", 5).map((m) => m.key)]);
    expect(tookMs).toBeGreaterThan(50); // three retries with back-off happened
  });

  it("non-retriable injected errors surface to the caller", async () => {
    await mock.createTopic("fatal", 1);
    const p = await producer();
    await p.send({ topic: "fatal", messages: messages("ok", 1) });
    await mock.requestErrors(ApiKey.Produce, [10]); // MESSAGE_TOO_LARGE
    await expect(p.send({ topic: "fatal", messages: messages("too-large", 1) })).rejects.toThrow();
    await mock.clearRequestErrors(ApiKey.Produce);
  });

  it("launcher rejects bad commands with a clear error", async () => {
    await expect(mock.command("frobnicate")).rejects.toThrow(/unknown command/);
    await expect(mock.brokerDown(9)).rejects.toThrow(/out of range/);
    await expect(mock.setLeader("orders", 99, 1)).rejects.toThrow(/Unknown topic or partition/);
    await mock.command("ping");
  });
});

describe("startMockKafka lifecycle", () => {
  it("stop() is idempotent and commands after stop fail clearly", async () => {
    const m = await startMockKafka({ brokers: 1 });
    expect(m.brokers).toHaveLength(1);
    await m.stop();
    await m.stop();
    await expect(m.createTopic("x", 1)).rejects.toThrow(/exited/);
  });
});
