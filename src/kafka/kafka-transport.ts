// The Kafka adapter of the transport port: a kafkajs consumer group `changecast.<pipeline>` on the Debezium
// topics, and a producer whose delivery mode is `at-least-once` (idempotent producer, then offset commit) or
// `exactly-once` (one transactional producer per source partition: outputs + offsets in one transaction).
//
// kafkajs pushes batches (eachBatch); the worker pulls them (poll) and hands back what it made of them
// (deliver). The bridge keeps exactly one kafkajs batch in flight: eachBatch parks it here and returns only
// once every record of it was delivered (or the batch was given up), so memory is bounded by the fetch sizes.
import {
  Kafka,
  Partitioners,
  type CompressionTypes,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaConfig,
  type KafkaMessage,
  type Message,
  type Producer,
  type TopicMessages,
} from "kafkajs";
import type { SourceRecord } from "../decode/change-event.js";
import type { KafkaCompression } from "../config/pipeline-config.js";
import { compressionType, findBatchDecompressionError, registerCompressionCodecs } from "./compression.js";
import { CLIENT_RETRY, type KafkaLogSink } from "./kafka-client.js";
import type { PublishedRecord } from "../publish/output-record.js";
import type { ChangeTransport, ConsumedBatch } from "../publish/transport.js";
import { ChangecastError, isRetriable } from "../errors.js";

export type DeliveryMode = "exactly-once" | "at-least-once";

export interface KafkaTransportOptions {
  /** kafkajs client config (see kafkaClientConfig) */
  client: KafkaConfig;
  pipeline: string;
  /** the Debezium topics to consume: `<source.topicPrefix>.<schema>.<table>` of every transform */
  topics: string[];
  delivery: DeliveryMode;
  /** codec of the published records (`kafka.compression`, default none) */
  compression?: KafkaCompression;
  /** aborting it makes poll return null (the worker then finishes its batch and closes the transport) */
  signal?: AbortSignal;
  log?: KafkaLogSink;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  /** how long a fetch long-polls an idle partition; must stay well below the session timeout */
  maxWaitTimeInMs?: number;
  /** metadata refresh period of the consumer and producers (a broker that came back is seen after this) */
  metadataMaxAge?: number;
  /** `kafka.fetchMaxBytes`: in-flight memory is at most (brokers × maxBytes) of raw records (fetchLimits) */
  maxBytes?: number;
  /** once stopping, how long a failing delivery keeps retrying before the batch is given up (redelivered later) */
  stopGraceMs?: number;
}

/** Defaults: ~2 MB per partition and 8 MB per fetch keep a 1M-record backlog from being read ahead. */
export const FETCH_LIMITS = { maxBytesPerPartition: 2 * 1024 * 1024, maxBytes: 8 * 1024 * 1024 };

/** The fetch sizes for `kafka.fetchMaxBytes`: that much per fetch request, at most 2 MB of it per partition. */
export function fetchLimits(maxBytes = FETCH_LIMITS.maxBytes): typeof FETCH_LIMITS {
  return { maxBytes, maxBytesPerPartition: Math.min(maxBytes, FETCH_LIMITS.maxBytesPerPartition) };
}

export function consumerGroupId(pipeline: string): string {
  return `changecast.${pipeline}`;
}

/** Transactional id of the producer for one source partition: stable across restarts and workers (fencing). */
export function transactionalId(pipeline: string, topic: string, partition: number): string {
  return `changecast.${pipeline}.${topic}.${partition}`;
}

/** Raised inside a delivery when the partition was taken away (rebalance) before it committed. */
export class AssignmentLostError extends ChangecastError {
  readonly code = "PUBLISH_ASSIGNMENT_LOST";
  override readonly name = "AssignmentLostError";
}

export type FailureKind = "lost" | "fenced" | "transient" | "fatal";

const LOST = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
]);
const FENCED = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_ID_MAPPING",
  "UNKNOWN_PRODUCER_ID",
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "INVALID_TXN_STATE",
  "TRANSACTION_COORDINATOR_FENCED",
]);
/** Classifies a kafkajs failure by the error and its causes (kafkajs wraps retried errors). */
export function classifyFailure(err: unknown): FailureKind {
  const types: string[] = [];
  const names: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    names.push(e.name);
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string") types.push(type);
    e = e.cause;
  }
  if (names.includes("AssignmentLostError") || types.some((t) => LOST.has(t))) return "lost";
  // what retrying cannot fix (isRetriable: non-retriable changecast errors such as CompressionCodecError,
  // kafkajs' authorization / too large / unsupported errors, programming errors) stops the worker;
  // a kafkajs failure that says neither is taken as transient
  if (!isRetriable(err, true)) return "fatal";
  if (types.some((t) => FENCED.has(t))) return "fenced";
  return "transient";
}

function describe(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 4; depth++) {
    if (!parts.includes(e.message)) parts.push(e.message);
    e = e.cause;
  }
  return parts.join(": ") || String(err);
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
/** Exponential backoff with jitter, 100 ms … 5 s. */
const backoff = (attempt: number) =>
  Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)) * (0.8 + Math.random() * 0.4);

/** A fetched Kafka message as the worker's SourceRecord (exported for `migrate backfill`). */
export function toSourceRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (value === undefined) continue;
    // a repeated header keeps its last value, as Kafka Connect's headers().lastWithName does
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = Buffer.isBuffer(last) ? last.toString("utf8") : last;
  }
  const ts = Number(m.timestamp);
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number.isFinite(ts) && ts >= 0 ? ts : null,
    headers,
    key: m.key ?? null,
    value: m.value ?? null,
  };
}

/** Outputs grouped by topic, order kept within a topic (and so within a key); exported for `migrate backfill`. */
export function topicMessages(outputs: PublishedRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const { record } of outputs) {
    let list = byTopic.get(record.topic);
    if (!list) byTopic.set(record.topic, (list = []));
    list.push({
      key: record.key,
      value: record.value,
      timestamp: String(record.timestamp),
      headers: record.headers,
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

type Outcome = { kind: "done" } | { kind: "given-up"; error?: Error };

/** The kafkajs batch currently handed over to the worker. */
interface InFlight {
  topic: string;
  partition: number;
  /** the batch's records, converted to SourceRecords slice by slice as poll hands them out (memory) */
  messages: KafkaMessage[];
  /** records handed to poll so far */
  handed: number;
  /** the offset after the fetched batch's last record, transaction markers and aborted records included */
  end: string;
  /** a heartbeat found the group rebalancing: do not commit, give the batch up */
  lost: Error | null;
  payload: EachBatchPayload;
  settle: (outcome: Outcome) => void;
  settled: boolean;
}

export interface KafkaTransportStats {
  batches: number;
  committed: number;
  givenUp: number;
  retries: number;
  /** group joins with an assignment (the first one included): each one is a rebalance of the group */
  rebalances: number;
}

/** Records of an assigned partition not yet processed: its high watermark minus the next offset to process. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

export class KafkaTransport implements ChangeTransport {
  readonly groupId: string;
  readonly stats: KafkaTransportStats = { batches: 0, committed: 0, givenUp: 0, retries: 0, rebalances: 0 };
  /** the partitions of the last group join ({topic: partitions}); null before the first join */
  assignment: Record<string, number[]> | null = null;
  /** per assigned partition (`topic|partition`): the last high watermark fetched and the next offset to process */
  private readonly positions = new Map<string, { highWatermark: bigint; next: bigint }>();
  private readonly kafka: Kafka;
  private consumer!: Consumer;
  private producer: Producer | null = null;
  private readonly txProducers = new Map<string, Promise<Producer>>();
  private admin: Admin | null = null;
  private current: InFlight | null = null;
  private failure: Error | null = null;
  private stopRequestedAt: number | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  /** bumped on every (re)join; a partition's first batch in a generation is checked against committed offsets */
  private generation = 0;
  private readonly verified = new Map<string, number>();
  private readonly log: KafkaLogSink;
  private readonly heartbeatInterval: number;
  private readonly compression: CompressionTypes | undefined;

  private constructor(private readonly options: KafkaTransportOptions) {
    this.groupId = consumerGroupId(options.pipeline);
    registerCompressionCodecs();
    this.kafka = new Kafka(options.client);
    this.log = options.log ?? (() => undefined);
    this.heartbeatInterval = options.heartbeatInterval ?? 3_000;
    this.compression = compressionType(options.compression ?? "none");
  }

  /** Connects, joins the group and starts fetching; resolves once the worker may poll. */
  static async open(options: KafkaTransportOptions): Promise<KafkaTransport> {
    const transport = new KafkaTransport(options);
    await transport.start();
    return transport;
  }

  private async start(): Promise<void> {
    const o = this.options;
    if (o.topics.length === 0) throw new Error("no source topics to consume (no transforms?)");
    o.signal?.addEventListener("abort", () => this.requestStop(), { once: true });
    this.consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: o.sessionTimeout ?? 30_000,
      heartbeatInterval: this.heartbeatInterval,
      maxWaitTimeInMs: o.maxWaitTimeInMs ?? Math.min(5_000, Math.floor((o.sessionTimeout ?? 30_000) / 3)),
      metadataMaxAge: o.metadataMaxAge ?? 30_000,
      ...fetchLimits(o.maxBytes),
      // read_committed: upstream transactional producers' aborted records are never mapped
      readUncommitted: false,
      retry: { ...CLIENT_RETRY, retries: Number.MAX_SAFE_INTEGER },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.generation++;
      const assigned = new Set(
        Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) =>
          parts.map((p) => `${topic}|${p}`),
        ),
      );
      this.log("info", `joined ${this.groupId} as ${e.payload.memberId}`, {
        assignment: e.payload.memberAssignment,
      });
      this.stats.rebalances++;
      this.assignment = e.payload.memberAssignment;
      // the lag of partitions that moved elsewhere is their new owner's to report
      for (const key of [...this.positions.keys()]) if (!assigned.has(key)) this.positions.delete(key);
      // producers of partitions that moved elsewhere are dropped (their successor fences them anyway)
      for (const key of [...this.txProducers.keys()]) if (!assigned.has(key)) void this.dropTxProducer(key);
    });
    // a fetched batch of nothing but transaction markers (or aborted records) never reaches eachBatch: kafkajs
    // only reports it here; the partition is consumed up to it (no lag left for the markers)
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (e) => {
      const { topic, partition, highWatermark, batchSize, lastOffset } = e.payload;
      if (batchSize === 0 && lastOffset !== null && lastOffset !== undefined)
        this.notePosition(topic, partition, highWatermark, (BigInt(lastOffset) + 1n).toString());
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      // a batch that cannot be decompressed fails again on every refetch: stop with where it is
      const corrupt = findBatchDecompressionError(e.payload.error);
      if (corrupt) {
        const { topic, partition, offset, lastOffset, codec } = corrupt;
        this.log("error", corrupt.message, { topic, partition, offset, lastOffset, codec });
        this.fail(corrupt);
        return;
      }
      this.log("error", `consumer crashed: ${e.payload.error.message}`, { restart: e.payload.restart });
      if (!e.payload.restart) this.fail(e.payload.error);
    });
    await this.consumer.connect();
    if (o.delivery === "at-least-once") this.producer = await this.connectProducer();
    await this.consumer.subscribe({ topics: o.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  private async connectProducer(txId?: string): Promise<Producer> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      metadataMaxAge: this.options.metadataMaxAge ?? 30_000,
      // kafkajs: an idempotent producer must not give up its own retries (sequence numbers would diverge)
      retry: { ...CLIENT_RETRY, retries: Number.MAX_SAFE_INTEGER },
      ...(txId ? { transactionalId: txId, transactionTimeout: 60_000 } : {}),
    });
    await producer.connect();
    return producer;
  }

  private requestStop(): void {
    this.stopRequestedAt ??= Date.now();
    this.wakeUp();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private get stopping(): boolean {
    return this.stopRequestedAt !== null || this.closed;
  }

  /** eachBatch: park the batch for the worker, heartbeat while it works, return when it is done or given up. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    this.notePosition(batch.topic, batch.partition, batch.highWatermark, batch.messages[0]?.offset);
    if (this.stopping || batch.isEmpty()) return;
    let messages = batch.messages;
    if (this.options.delivery === "exactly-once") {
      messages = await this.skipCommitted(batch.topic, batch.partition, messages, payload);
      if (messages.length === 0) return;
    }
    this.stats.batches++;
    let settle!: (outcome: Outcome) => void;
    const done = new Promise<Outcome>((resolve) => (settle = resolve));
    const inflight: InFlight = {
      topic: batch.topic,
      partition: batch.partition,
      messages,
      handed: 0,
      end: (BigInt(batch.lastOffset()) + 1n).toString(),
      lost: null,
      payload,
      settle: (outcome) => {
        if (inflight.settled) return;
        inflight.settled = true;
        settle(outcome);
      },
      settled: false,
    };
    this.current = inflight;
    this.wakeUp();
    const timer = setInterval(() => {
      payload.heartbeat().catch((err: unknown) => {
        if (classifyFailure(err) === "lost" || isRebalancing(err)) inflight.lost ??= err as Error;
      });
    }, this.heartbeatInterval);
    try {
      const outcome = await done;
      if (outcome.kind === "given-up") {
        this.stats.givenUp++;
        // a rebalance error goes back to kafkajs, which rejoins the group; the batch is refetched from the
        // last resolved offset by whoever owns the partition then
        if (outcome.error && isRebalancing(outcome.error)) throw outcome.error;
      }
    } finally {
      clearInterval(timer);
      if (this.current === inflight) this.current = null;
    }
  }

  /**
   * Exactly-once, first batch of a partition in this generation: initialise its transactional producer (which
   * fences the previous owner and completes its open transaction), then drop records below the group's
   * committed offset — a previous owner may have committed them transactionally after we fetched.
   */
  private async skipCommitted(
    topic: string,
    partition: number,
    records: KafkaMessage[],
    payload: EachBatchPayload,
  ): Promise<KafkaMessage[]> {
    const key = `${topic}|${partition}`;
    if (this.verified.get(key) === this.generation) return records;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.txProducer(topic, partition);
        this.admin ??= this.kafka.admin({ retry: CLIENT_RETRY });
        await this.admin.connect();
        const [offsets] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
        const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? "-1";
        this.verified.set(key, this.generation);
        const first = records[0];
        if (BigInt(committed) < 0n || !first || BigInt(first.offset) >= BigInt(committed)) return records;
        const kept = records.filter((r) => BigInt(r.offset) >= BigInt(committed));
        this.log("info", `${key}: skipping records below committed offset ${committed}`, {
          skipped: records.length - kept.length,
        });
        if (kept.length === 0) payload.resolveOffset((BigInt(committed) - 1n).toString());
        return kept;
      } catch (err) {
        const kind = classifyFailure(err);
        if (kind === "fatal") throw err;
        if (kind === "lost" || this.stopping) return [];
        this.stats.retries++;
        this.log("warn", `${key}: preparing the transactional producer failed, retrying: ${describe(err)}`, {
          attempt,
        });
        await this.dropTxProducer(key);
        await sleep(backoff(attempt));
      }
    }
  }

  private txProducer(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}|${partition}`;
    let producer = this.txProducers.get(key);
    if (!producer) {
      producer = this.connectProducer(transactionalId(this.options.pipeline, topic, partition));
      // a failed connect must not stay cached
      producer.catch(() => {
        if (this.txProducers.get(key) === producer) this.txProducers.delete(key);
      });
      this.txProducers.set(key, producer);
    }
    return producer;
  }

  private async dropTxProducer(key: string): Promise<void> {
    const producer = this.txProducers.get(key);
    if (!producer) return;
    this.txProducers.delete(key);
    try {
      await (await producer).disconnect();
    } catch {
      // already broken: nothing to release
    }
  }

  async poll(maxRecords: number): Promise<ConsumedBatch | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.stopping) return null;
      const cur = this.current;
      if (cur && !cur.settled && cur.handed < cur.messages.length) {
        const slice = cur.messages.slice(cur.handed, cur.handed + Math.max(1, maxRecords));
        cur.handed += slice.length;
        return { records: slice.map((m) => toSourceRecord(cur.topic, cur.partition, m)) };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async deliver(
    consumed: SourceRecord[],
    outputs: PublishedRecord[],
    beforeCommit?: () => Promise<void>,
  ): Promise<void> {
    const cur = this.current;
    const last = consumed[consumed.length - 1];
    if (!cur || cur.settled || !last) return;
    const next = (BigInt(last.offset) + 1n).toString();
    const offsets = {
      topics: [{ topic: cur.topic, partitions: [{ partition: cur.partition, offset: next }] }],
    };
    const committed =
      this.options.delivery === "exactly-once" && outputs.length > 0
        ? await this.deliverTransaction(cur, outputs, offsets, beforeCommit)
        : await this.deliverThenCommit(cur, outputs, offsets, beforeCommit);
    if (!committed) {
      cur.settle({ kind: "given-up", ...(cur.lost ? { error: cur.lost } : {}) });
      return;
    }
    this.stats.committed += consumed.length;
    this.notePosition(cur.topic, cur.partition, undefined, next);
    // the next fetch of this partition starts after what is committed (also after a partial batch)
    cur.payload.resolveOffset(last.offset);
    if (cur.handed >= cur.messages.length && last.offset === cur.messages[cur.messages.length - 1]?.offset) {
      // a transaction's commit marker after the last record is consumed too: no lag left for it
      this.notePosition(cur.topic, cur.partition, undefined, cur.end);
      cur.settle({ kind: "done" });
    }
  }

  /** Whether to keep retrying a failed delivery: not after a rebalance, nor long after a stop was requested. */
  private mayRetry(cur: InFlight): boolean {
    if (cur.lost) return false;
    if (
      this.stopRequestedAt !== null &&
      Date.now() - this.stopRequestedAt > (this.options.stopGraceMs ?? 15_000)
    )
      return false;
    return !this.closed;
  }

  /** Heartbeat between retries, so that a rebalance during an outage is noticed (and the batch given up). */
  private async checkAssignment(cur: InFlight): Promise<void> {
    try {
      await cur.payload.heartbeat();
    } catch (err) {
      if (classifyFailure(err) === "lost" || isRebalancing(err)) cur.lost ??= err as Error;
    }
  }

  /** at-least-once (and offset-only commits): make outputs durable (acks=all), then commit the offsets. */
  private async deliverThenCommit(
    cur: InFlight,
    outputs: PublishedRecord[],
    offsets: { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] },
    beforeCommit?: () => Promise<void>,
  ): Promise<boolean> {
    let sent = outputs.length === 0;
    // the state writes run once: they are idempotent, but a retried commit need not repeat them
    let stateWritten = !beforeCommit;
    for (let attempt = 0; ; attempt++) {
      try {
        if (!sent) {
          this.producer ??= await this.connectProducer();
          await this.producer.sendBatch({
            topicMessages: topicMessages(outputs),
            acks: -1,
            compression: this.compression,
          });
          sent = true;
        }
        if (!stateWritten) {
          await beforeCommit!();
          stateWritten = true;
        }
        if (cur.lost) throw new AssignmentLostError("partition revoked during the batch");
        await cur.payload.commitOffsetsIfNecessary(offsets);
        return true;
      } catch (err) {
        const kind = classifyFailure(err);
        if (kind === "fatal") throw err;
        if (kind === "lost") {
          // published but not committed: the new owner republishes them (same ce_id; at-least-once)
          this.log(
            "warn",
            `${cur.topic}[${cur.partition}]: assignment lost before commit: ${describe(err)}`,
            {},
          );
          cur.lost ??= err as Error;
          return false;
        }
        if (kind === "fenced" && !sent) await this.resetProducer();
        this.stats.retries++;
        this.log(
          "warn",
          `${cur.topic}[${cur.partition}]: ${sent ? "commit" : "send"} failed, retrying: ${describe(err)}`,
          {
            attempt,
          },
        );
        await sleep(backoff(attempt));
        await this.checkAssignment(cur);
        if (!this.mayRetry(cur)) return false;
      }
    }
  }

  private async resetProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.disconnect().catch(() => undefined);
  }

  /**
   * exactly-once: outputs and the consumed offsets in one transaction of the partition's producer; any failure
   * aborts it and retries with a fresh producer (its initialisation fences the old one). After the commit the
   * same offsets are committed through the consumer too: harmless on Kafka (same value), and what makes
   * progress durable on brokers that ignore TxnOffsetCommit (the librdkafka mock).
   */
  private async deliverTransaction(
    cur: InFlight,
    outputs: PublishedRecord[],
    offsets: { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] },
    beforeCommit?: () => Promise<void>,
  ): Promise<boolean> {
    const key = `${cur.topic}|${cur.partition}`;
    const messages = topicMessages(outputs);
    for (let attempt = 0; ; attempt++) {
      let active: { abort(): Promise<void>; isActive(): boolean } | null = null;
      try {
        const producer = await this.txProducer(cur.topic, cur.partition);
        const txn = await producer.transaction();
        active = txn;
        await txn.sendBatch({ topicMessages: messages, acks: -1, compression: this.compression });
        await txn.sendOffsets({ consumerGroupId: this.groupId, ...offsets });
        // the state writes before the commit: a crash after them redelivers the batch, which the state
        // recognises (docs/state.md); after the commit they could be lost with the offsets committed
        await beforeCommit?.();
        if (cur.lost) throw new AssignmentLostError("partition revoked during the transaction");
        await txn.commit();
        break;
      } catch (err) {
        if (active?.isActive()) await active.abort().catch(() => undefined);
        await this.dropTxProducer(key);
        const kind = classifyFailure(err);
        if (kind === "fatal") throw err;
        if (kind === "lost") {
          this.log("warn", `${key}: assignment lost, transaction aborted: ${describe(err)}`, {});
          cur.lost ??= err as Error;
          return false;
        }
        this.stats.retries++;
        this.log("warn", `${key}: transaction failed (aborted), retrying: ${describe(err)}`, {
          attempt,
          kind,
        });
        await sleep(backoff(attempt));
        await this.checkAssignment(cur);
        if (!this.mayRetry(cur)) return false;
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await cur.payload.commitOffsetsIfNecessary(offsets);
        return true;
      } catch (err) {
        const kind = classifyFailure(err);
        if (kind === "fatal") throw err;
        // the transaction holds the offsets on Kafka: a lost assignment here changes nothing there
        if (kind === "lost") return true;
        this.stats.retries++;
        this.log("warn", `${key}: offset commit after the transaction failed, retrying: ${describe(err)}`, {
          attempt,
        });
        await sleep(backoff(attempt));
        if (!this.mayRetry(cur)) return true;
      }
    }
  }

  /** Consumer lag per assigned partition, from the high watermarks of the fetched batches (none before a fetch). */
  lag(): PartitionLag[] {
    return [...this.positions].map(([key, p]) => {
      const bar = key.lastIndexOf("|");
      const lag = p.highWatermark - p.next;
      return {
        topic: key.slice(0, bar),
        partition: Number(key.slice(bar + 1)),
        lag: lag > 0n ? Number(lag) : 0,
      };
    });
  }

  private notePosition(topic: string, partition: number, highWatermark?: string, next?: string): void {
    const key = `${topic}|${partition}`;
    const known = this.positions.get(key);
    const hw = highWatermark !== undefined ? BigInt(highWatermark) : known?.highWatermark;
    const nx = next !== undefined ? BigInt(next) : (known?.next ?? hw);
    if (hw === undefined || nx === undefined) return;
    this.positions.set(key, { highWatermark: hw, next: nx });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeUp();
    this.current?.settle({ kind: "given-up" });
    // stop + disconnect leaves the group, so the partitions move to the other workers at once
    await this.consumer
      ?.disconnect()
      .catch((err: unknown) => this.log("warn", `consumer disconnect: ${describe(err)}`, {}));
    await this.resetProducer();
    await Promise.all([...this.txProducers.keys()].map((key) => this.dropTxProducer(key)));
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** kafkajs's own notion of "the group is rebalancing" (it rejoins on these). */
function isRebalancing(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return (
    type === "REBALANCE_IN_PROGRESS" || type === "NOT_COORDINATOR_FOR_GROUP" || type === "ILLEGAL_GENERATION"
  );
}
