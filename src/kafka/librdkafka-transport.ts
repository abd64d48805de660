// The librdkafka adapter of the transport port (kafka.client: librdkafka), on @confluentinc/kafka-javascript's
// native API: the same consumer group `changecast.<pipeline>` and delivery modes as KafkaTransport (kafkajs), with
// every codec in librdkafka, an idempotent producer, and KIP-447 transactions for exactly-once.
//
// The worker pulls: poll() is one consume(n) of librdkafka's prefetch queue (bounded by queued.max.messages.kbytes),
// deliver() publishes and then commits (at-least-once), or publishes, sends the offsets with the consumer's group
// metadata and commits one transaction (exactly-once). librdkafka heartbeats on its own threads, and serves
// rebalances only while the worker polls, i.e. between batches (eager protocol: a rebalance revokes everything and
// the next assignment resumes from the committed offsets, so a batch given up is redelivered).
import type { SourceRecord } from "../decode/change-event.js";
import type { KafkaCompression } from "../config/pipeline-config.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { ChangeTransport, ConsumedBatch } from "../publish/transport.js";
import { ChangecastError } from "../errors.js";
import type { KafkaLogSink } from "./kafka-client.js";
import {
  AssignmentLostError,
  consumerGroupId,
  FETCH_LIMITS,
  fetchLimits,
  type DeliveryMode,
} from "./kafka-transport.js";
import {
  call,
  loadLibrdkafka,
  toError,
  type RdConfig,
  type RdConsumer,
  type RdError,
  type RdMessage,
  type RdProducer,
  type RdTopicPartition,
  type RdTopicPartitionOffset,
} from "./librdkafka-api.js";

/** A librdkafka error that no retry can fix (authorization, too large, a corrupt batch …): the worker stops. */
export class KafkaClientFatalError extends ChangecastError {
  readonly code = "PUBLISH_KAFKA_FATAL";
  override readonly name = "KafkaClientFatalError";
}

export interface LibrdkafkaTransportOptions {
  /** shared client properties (librdkafkaClientConfig) */
  client: RdConfig;
  pipeline: string;
  topics: string[];
  delivery: DeliveryMode;
  compression?: KafkaCompression;
  signal?: AbortSignal;
  log?: KafkaLogSink;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  maxWaitTimeInMs?: number;
  /** `kafka.fetchMaxBytes` (librdkafkaFetchConfig) */
  maxBytes?: number;
  /** exactly-once: the producer's transactional.id; unique per live worker (default `<group>.<client.id>`) */
  transactionalId?: string;
  /** once stopping, how long a failing delivery keeps retrying before the batch is given up */
  stopGraceMs?: number;
}

/**
 * Prefetch bound: librdkafka's queue of fetched, not yet consumed records, twice `kafka.fetchMaxBytes` (16 MB by
 * default). Measured on a 1M gzip backlog: 4 MB instead of 16 MB saved 13–40 MB of peak RSS but cost a third of
 * the drain rate (docs/kafka.md).
 */
export function librdkafkaFetchConfig(maxBytes = FETCH_LIMITS.maxBytes): RdConfig {
  const { maxBytesPerPartition } = fetchLimits(maxBytes);
  return {
    "fetch.max.bytes": maxBytes,
    "max.partition.fetch.bytes": maxBytesPerPartition,
    "queued.max.messages.kbytes": Math.max(1, Math.ceil((2 * maxBytes) / 1024)),
  };
}

const ERR = {
  ASSIGN: -175,
  REVOKE: -174,
  QUEUE_FULL: -184,
  TIMED_OUT: -185,
  NO_OFFSET: -168,
} as const;
const LOST_CODES = new Set([22, 25, 27, 82, -142]);
const FATAL_CODES = new Set([
  10, // MSG_SIZE_TOO_LARGE
  18, // RECORD_LIST_TOO_LARGE
  29, // TOPIC_AUTHORIZATION_FAILED
  30, // GROUP_AUTHORIZATION_FAILED
  31, // CLUSTER_AUTHORIZATION_FAILED
  35, // UNSUPPORTED_VERSION
  53, // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  58, // SASL_AUTHENTICATION_FAILED
  76, // UNSUPPORTED_COMPRESSION_TYPE
  87, // INVALID_RECORD
  -199, // _BAD_MSG
  -198, // _BAD_COMPRESSION: a fetched batch that cannot be decompressed fails the same way on every refetch
  -186, // _INVALID_ARG
  -170, // _NOT_IMPLEMENTED
  -169, // _AUTHENTICATION
]);

type Kind = "lost" | "fatal" | "transient";

function classify(err: unknown): Kind {
  if (err instanceof AssignmentLostError) return "lost";
  if (err instanceof ChangecastError) return err.retriable ? "transient" : "fatal";
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "number") {
    if (LOST_CODES.has(code)) return "lost";
    if (FATAL_CODES.has(code)) return "fatal";
  }
  if (err instanceof TypeError || err instanceof RangeError) return "fatal";
  return "transient";
}

function fatal(err: unknown, what: string): Error {
  if (err instanceof ChangecastError) return err;
  const e = toError(err);
  return new KafkaClientFatalError(`${what}: ${e.message} (librdkafka error ${e.code})`, { cause: err });
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const backoff = (attempt: number) =>
  Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)) * (0.8 + Math.random() * 0.4);
const tp = (topic: string, partition: number) => `${topic}|${partition}`;

/** A consumed librdkafka message as the worker's SourceRecord. */
export function rdSourceRecord(m: RdMessage): SourceRecord {
  const headers: Record<string, string> = {};
  // a repeated header keeps its last value, as Kafka Connect's headers().lastWithName does
  if (m.headers)
    for (const h of m.headers)
      for (const name in h) {
        const v = h[name]!;
        headers[name] = typeof v === "string" ? v : v.toString("utf8");
      }
  const key =
    m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
  const ts = m.timestamp;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    timestamp: ts !== undefined && Number.isFinite(ts) && ts >= 0 ? ts : null,
    headers,
    key,
    value: m.value ?? null,
  };
}

export interface LibrdkafkaTransportStats {
  batches: number;
  committed: number;
  givenUp: number;
  retries: number;
  /** group joins with an assignment: each one is a rebalance of the group */
  rebalances: number;
}

/** Seconds between librdkafka's statistics, which carry the consumer lag per partition (metrics). */
const STATISTICS_INTERVAL_MS = 5_000;

interface DeliveryWait {
  remaining: number;
  failed: number[];
  error: RdError | null;
  done: () => void;
}

export class LibrdkafkaTransport implements ChangeTransport {
  readonly groupId: string;
  readonly stats: LibrdkafkaTransportStats = {
    batches: 0,
    committed: 0,
    givenUp: 0,
    retries: 0,
    rebalances: 0,
  };
  /** the current assignment by topic, null while the worker holds none (readiness) */
  assignment: Record<string, number[]> | null = null;
  /** consumer lag per assigned partition, from librdkafka's latest statistics */
  private lagByPartition = new Map<string, { topic: string; partition: number; lag: number }>();
  private consumer!: RdConsumer;
  private producer: RdProducer | null = null;
  private producerReady: Promise<RdProducer> | null = null;
  private readonly log: KafkaLogSink;
  private readonly assigned = new Set<string>();
  /** bumped on every revocation; a batch polled under another count was (partly) revoked */
  private revocations = 0;
  private polledUnder = -1;
  private failure: Error | null = null;
  private stopRequestedAt: number | null = null;
  private closed = false;
  private delivery: DeliveryWait | null = null;
  /** at-least-once: the previous batch, still being acknowledged and committed */
  private pending: Promise<void> = Promise.resolve();

  private constructor(private readonly options: LibrdkafkaTransportOptions) {
    this.groupId = consumerGroupId(options.pipeline);
    this.log = options.log ?? (() => undefined);
  }

  static async open(options: LibrdkafkaTransportOptions): Promise<LibrdkafkaTransport> {
    const transport = new LibrdkafkaTransport(options);
    await transport.start();
    return transport;
  }

  private get transactional(): boolean {
    return this.options.delivery === "exactly-once";
  }

  private async start(): Promise<void> {
    const o = this.options;
    if (o.topics.length === 0) throw new Error("no source topics to consume (no transforms?)");
    const rd = loadLibrdkafka();
    o.signal?.addEventListener("abort", () => (this.stopRequestedAt ??= Date.now()), { once: true });
    const sessionTimeout = o.sessionTimeout ?? 30_000;
    this.consumer = new rd.KafkaConsumer(
      {
        ...o.client,
        "group.id": this.groupId,
        "enable.auto.commit": false,
        "enable.auto.offset.store": false,
        "session.timeout.ms": sessionTimeout,
        "heartbeat.interval.ms": o.heartbeatInterval ?? 3_000,
        "fetch.wait.max.ms": o.maxWaitTimeInMs ?? Math.min(500, Math.floor(sessionTimeout / 3)),
        ...librdkafkaFetchConfig(o.maxBytes),
        "queued.min.messages": 10_000,
        // upstream transactional producers' aborted records are never mapped
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "range,roundrobin",
        "statistics.interval.ms": STATISTICS_INTERVAL_MS,
        rebalance_cb: ((err: RdError, partitions: RdTopicPartition[]) =>
          this.onRebalance(err, partitions)) as never,
      },
      { "auto.offset.reset": "earliest" },
    );
    this.consumer.on("event.error", (err) => {
      const e = toError(err);
      if (e.isFatal || FATAL_CODES.has(e.code)) this.fail(fatal(e, "Kafka consumer"));
      else this.log("warn", `librdkafka consumer: ${e.message}`, { code: e.code });
    });
    this.consumer.on("event.stats", (stats) => this.noteStatistics(stats.message));
    await call((cb) => this.consumer.connect({}, cb));
    this.consumer.setDefaultConsumeTimeout(200);
    // once one record is there, take what is already fetched instead of waiting for a full batch
    this.consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.consumer.subscribe(o.topics);
    if (!this.transactional) await this.readyProducer();
  }

  private onRebalance(err: RdError, partitions: RdTopicPartition[]): void {
    try {
      if (err.code === ERR.ASSIGN) {
        this.assigned.clear();
        const byTopic: Record<string, number[]> = {};
        for (const p of partitions) {
          this.assigned.add(tp(p.topic, p.partition));
          (byTopic[p.topic] ??= []).push(p.partition);
        }
        this.consumer.assign(partitions);
        this.stats.rebalances++;
        this.assignment = byTopic;
        this.log("info", `joined ${this.groupId}`, { assignment: byTopic });
      } else {
        this.revocations++;
        this.assigned.clear();
        this.assignment = null;
        this.lagByPartition.clear();
        this.consumer.unassign();
        if (err.code !== ERR.REVOKE) this.log("warn", `rebalance error: ${err.message}`, { code: err.code });
        else this.log("info", `partitions revoked (${partitions.length})`, {});
      }
    } catch (e) {
      if (this.consumer.isConnected()) this.log("warn", `rebalance: ${(e as Error).message}`, {});
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
  }

  private get stopping(): boolean {
    return this.stopRequestedAt !== null || this.closed;
  }

  private producerConfig(): RdConfig {
    const o = this.options;
    const config: RdConfig = {
      ...o.client,
      "enable.idempotence": true,
      acks: -1,
      // Java's (and kafkajs') default partitioner: a key lands in the same partition whichever client wrote it
      partitioner: "murmur2_random",
      "compression.codec": o.compression ?? "none",
      "linger.ms": 5,
      "batch.num.messages": 10_000,
      "queue.buffering.max.messages": 1_000_000,
    };
    if (this.transactional) {
      const txId = o.transactionalId ?? `${this.groupId}.${String(o.client["client.id"])}`;
      config["transactional.id"] = txId;
      config["transaction.timeout.ms"] = 60_000;
      config["message.timeout.ms"] = 60_000;
      // commitTransaction reports failed records itself: no per-record delivery reports to JS
      config.dr_cb = false;
    } else {
      config.dr_cb = true;
      config.dr_msg_cb = false;
    }
    return config;
  }

  /** The producer, connected (and, exactly-once, with its transactions initialised: fences a previous epoch). */
  private readyProducer(): Promise<RdProducer> {
    this.producerReady ??= (async () => {
      const rd = loadLibrdkafka();
      const producer = new rd.Producer(this.producerConfig());
      producer.on("event.error", (err) => {
        const e = toError(err);
        this.log("warn", `librdkafka producer: ${e.message}`, { code: e.code, fatal: e.isFatal ?? false });
      });
      producer.on("delivery-report", (err, report) => this.onDelivery(err, report));
      await call((cb) => producer.connect({}, cb));
      producer.setPollInterval(5);
      if (this.transactional) await call((cb) => producer.initTransactions(30_000, cb));
      this.producer = producer;
      return producer;
    })();
    // a failed start must not stay cached
    this.producerReady.catch(() => this.dropProducer());
    return this.producerReady;
  }

  private dropProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    this.producerReady = null;
    if (!producer) return Promise.resolve();
    return new Promise<void>((done) => producer.disconnect(5_000, () => done()));
  }

  private onDelivery(err: RdError | null | undefined, report: RdMessage & { opaque?: unknown }): void {
    const wait = this.delivery;
    if (!wait) return;
    if (err) {
      wait.error ??= toError(err);
      if (typeof report.opaque === "number") wait.failed.push(report.opaque);
    }
    if (--wait.remaining === 0) wait.done();
  }

  /** produce() each record; a full local queue waits for librdkafka to make room. */
  private async produceAll(
    producer: RdProducer,
    outputs: PublishedRecord[],
    indexes: number[] | null,
  ): Promise<void> {
    const n = indexes ? indexes.length : outputs.length;
    for (let i = 0; i < n; i++) {
      const index = indexes ? indexes[i]! : i;
      const { record } = outputs[index]!;
      const headers = Object.entries(record.headers).map(([k, v]) => ({ [k]: v }));
      for (;;) {
        try {
          producer.produce(record.topic, null, record.value, record.key, record.timestamp, index, headers);
          break;
        } catch (err) {
          if (toError(err).code !== ERR.QUEUE_FULL) throw err;
          producer.poll();
          await sleep(5);
        }
      }
    }
  }

  /** at-least-once: produce, then wait for every delivery report; failed records are reported by index. */
  private async publish(outputs: PublishedRecord[], indexes: number[] | null): Promise<void> {
    const producer = await this.readyProducer();
    const count = indexes ? indexes.length : outputs.length;
    if (count === 0) return;
    const wait: DeliveryWait = { remaining: count, failed: [], error: null, done: () => undefined };
    const settled = new Promise<void>((resolve) => (wait.done = resolve));
    this.delivery = wait;
    try {
      await this.produceAll(producer, outputs, indexes);
      producer.poll();
      await settled;
    } finally {
      this.delivery = null;
    }
    if (wait.error) {
      const err = wait.error as RdError & { failed?: number[] };
      err.failed = wait.failed;
      throw err;
    }
  }

  async poll(maxRecords: number): Promise<ConsumedBatch | null> {
    for (let attempt = 0; ;) {
      if (this.failure) throw this.failure;
      if (this.stopping) return null;
      let messages: RdMessage[];
      try {
        messages = await new Promise<RdMessage[]>((resolve, reject) =>
          this.consumer.consume(Math.max(1, maxRecords), (err, got) =>
            err ? reject(toError(err)) : resolve(got ?? []),
          ),
        );
        attempt = 0;
      } catch (err) {
        const e = toError(err);
        if (e.code === ERR.TIMED_OUT) continue;
        if (classify(e) === "fatal") {
          this.log("error", `consume failed: ${e.message}`, { code: e.code });
          throw fatal(e, "Kafka consumer");
        }
        this.log("warn", `consume failed, retrying: ${e.message}`, { code: e.code, attempt });
        await sleep(backoff(attempt++));
        continue;
      }
      if (this.failure) throw this.failure;
      // records fetched for partitions revoked meanwhile are dropped: their next owner reads them
      const kept = messages.filter((m) => this.assigned.has(tp(m.topic, m.partition)));
      if (kept.length === 0) continue;
      this.polledUnder = this.revocations;
      this.stats.batches++;
      return { records: kept.map(rdSourceRecord) };
    }
  }

  /** Consumer lag of the assigned partitions (high watermark − committed position), as librdkafka last said. */
  lag(): { topic: string; partition: number; lag: number }[] {
    return [...this.lagByPartition.values()];
  }

  /** librdkafka's statistics JSON: `topics.<t>.partitions.<p>.consumer_lag` (-1: not known yet). */
  private noteStatistics(json: string): void {
    let doc: { topics?: Record<string, { partitions?: Record<string, { consumer_lag?: number }> }> };
    try {
      doc = JSON.parse(json) as typeof doc;
    } catch {
      return;
    }
    for (const [topic, t] of Object.entries(doc.topics ?? {}))
      for (const [id, p] of Object.entries(t.partitions ?? {})) {
        const partition = Number(id);
        // -1 is librdkafka's internal UA partition; lag -1 means unknown
        if (partition < 0 || !this.assigned.has(tp(topic, partition))) continue;
        const lag = p.consumer_lag ?? -1;
        if (lag >= 0) this.lagByPartition.set(tp(topic, partition), { topic, partition, lag });
      }
  }

  /** Whether a rebalance revoked the partitions since the batch polled under `epoch`. */
  private lost(epoch = this.polledUnder): boolean {
    return epoch !== this.revocations;
  }

  private mayRetry(epoch = this.polledUnder): boolean {
    if (this.lost(epoch) || this.closed) return false;
    return (
      this.stopRequestedAt === null ||
      Date.now() - this.stopRequestedAt <= (this.options.stopGraceMs ?? 15_000)
    );
  }

  /** Waits for the at-least-once batch still being acknowledged; its failure surfaces here. */
  private async settlePending(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure;
  }

  async deliver(
    consumed: SourceRecord[],
    outputs: PublishedRecord[],
    beforeCommit?: () => Promise<void>,
  ): Promise<void> {
    if (consumed.length === 0) return;
    const next = new Map<string, RdTopicPartitionOffset>();
    for (const r of consumed) {
      const offset = Number(r.offset) + 1;
      const key = tp(r.topic, r.partition);
      const seen = next.get(key);
      if (!seen || seen.offset < offset) next.set(key, { topic: r.topic, partition: r.partition, offset });
    }
    const offsets = [...next.values()];
    const epoch = this.polledUnder;
    const account = (committed: boolean) => {
      if (committed) this.stats.committed += consumed.length;
      else this.stats.givenUp++;
    };
    // at most one batch in flight, and commits in batch order
    await this.settlePending();
    if (this.transactional && outputs.length > 0) {
      account(await this.deliverTransaction(outputs, offsets, beforeCommit));
      return;
    }
    if (beforeCommit) {
      // the batch's state writes (docs/state.md) must not overlap the next batch's processing, which adds its own
      account(await this.deliverThenCommit(outputs, offsets, epoch, beforeCommit));
      return;
    }
    // at-least-once: the acknowledgements and the commit of this batch overlap the worker's processing of the
    // next one (which is not published before this one is committed: still one uncommitted batch at most)
    this.pending = this.deliverThenCommit(outputs, offsets, epoch).then(account, (err: unknown) =>
      this.fail(err as Error),
    );
  }

  /** at-least-once: outputs acknowledged by all in-sync replicas, then the offsets committed. */
  private async deliverThenCommit(
    outputs: PublishedRecord[],
    offsets: RdTopicPartitionOffset[],
    epoch: number,
    beforeCommit?: () => Promise<void>,
  ): Promise<boolean> {
    let pending: number[] | null = null;
    let sent = outputs.length === 0;
    // the state writes run once: they are idempotent, but a retried commit need not repeat them
    let stateWritten = !beforeCommit;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!sent) {
          await this.publish(outputs, pending);
          sent = true;
        }
        if (!stateWritten) {
          await beforeCommit!();
          stateWritten = true;
        }
        if (this.lost(epoch)) throw new AssignmentLostError("partition revoked during the batch");
        await this.commitSync(offsets);
        return true;
      } catch (err) {
        const kind = classify(err);
        if (kind === "fatal") throw fatal(err, "delivery");
        if (kind === "lost") {
          // published but not committed: the new owner republishes them (same ce_id; at-least-once)
          this.log("warn", `assignment lost before commit: ${(err as Error).message}`, {});
          return false;
        }
        const failed = (err as { failed?: number[] }).failed;
        if (!sent && failed && failed.length > 0) pending = failed;
        this.stats.retries++;
        this.log("warn", `${sent ? "commit" : "send"} failed, retrying: ${(err as Error).message}`, {
          attempt,
          code: (err as RdError).code,
        });
        await sleep(backoff(attempt));
        if (!this.mayRetry(epoch)) return false;
      }
    }
  }

  /** A synchronous commit (the commit round trip blocks the thread; it is one request per batch). */
  private async commitSync(offsets: RdTopicPartitionOffset[]): Promise<void> {
    await Promise.resolve();
    (this.consumer as unknown as { commitSync(o: RdTopicPartitionOffset[]): unknown }).commitSync(offsets);
  }

  /**
   * exactly-once (KIP-447): one transaction holds the outputs and the consumed offsets with the consumer's group
   * metadata, so a zombie whose partitions moved is fenced by its generation. Then the same offsets are committed
   * through the consumer too: the same value on Kafka, and what makes progress durable on brokers that accept
   * TxnOffsetCommit without storing it (the librdkafka mock used by the tests).
   */
  private async deliverTransaction(
    outputs: PublishedRecord[],
    offsets: RdTopicPartitionOffset[],
    beforeCommit?: () => Promise<void>,
  ): Promise<boolean> {
    let stateWritten = !beforeCommit;
    for (let attempt = 0; ; attempt++) {
      let open = false;
      try {
        const producer = await this.readyProducer();
        await call((cb) => producer.beginTransaction(cb));
        open = true;
        await this.produceAll(producer, outputs, null);
        // the batch's state writes, before the transaction commits (docs/state.md)
        if (!stateWritten) {
          await beforeCommit!();
          stateWritten = true;
        }
        await call((cb) => producer.sendOffsetsToTransaction(offsets, this.consumer, 30_000, cb));
        if (this.lost()) throw new AssignmentLostError("partition revoked during the transaction");
        for (let retry = 0; ; retry++) {
          try {
            await call((cb) => producer.commitTransaction(60_000, cb));
            break;
          } catch (err) {
            // a retriable commit is retried as a commit (its outcome is unknown; aborting could be wrong)
            if (!toError(err).isRetriable || retry >= 5) throw err;
            await sleep(backoff(retry));
          }
        }
        open = false;
        break;
      } catch (err) {
        const e = toError(err);
        if (open && this.producer) {
          const producer = this.producer;
          await call((cb) => producer.abortTransaction(30_000, cb)).catch(() => this.dropProducer());
        }
        if (e.isFatal) await this.dropProducer();
        const kind = classify(err);
        if (kind === "fatal") throw fatal(err, "transaction");
        if (kind === "lost") {
          this.log("warn", `assignment lost, transaction aborted: ${e.message}`, {});
          return false;
        }
        this.stats.retries++;
        this.log("warn", `transaction failed (aborted), retrying: ${e.message}`, { attempt, code: e.code });
        await sleep(backoff(attempt));
        if (!this.mayRetry()) return false;
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.commitSync(offsets);
        return true;
      } catch (err) {
        const kind = classify(err);
        if (kind === "fatal") throw fatal(err, "offset commit");
        // the transaction holds the offsets on Kafka: a lost assignment here changes nothing there
        if (kind === "lost") return true;
        this.stats.retries++;
        this.log("warn", `offset commit after the transaction failed, retrying: ${(err as Error).message}`, {
          attempt,
        });
        await sleep(backoff(attempt));
        if (!this.mayRetry()) return true;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // the last batch's acknowledgements and commit (retries stop after stopGraceMs once stopping)
    this.stopRequestedAt ??= Date.now();
    await this.pending;
    this.closed = true;
    // leaves the group, so the partitions move to the other workers at once
    if (this.consumer?.isConnected())
      await new Promise<void>((done) => this.consumer.disconnect(() => done()));
    const producer = this.producer;
    if (producer) await new Promise<void>((done) => producer.flush(10_000, () => done()));
    await this.dropProducer();
  }
}
