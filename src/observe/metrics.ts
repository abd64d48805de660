// The worker's Prometheus metrics (docs/operations.md, "Metrics"): one prom-client registry per process, fed by
// the worker loop (a WorkerObserver), read from the Kafka transport at scrape time (lag, rebalances) and from
// a counting wrapper of the schema registry. Every metric exists from the start, at 0, so that dashboards and
// alerts see a series before the first record.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SourceRecord } from "../decode/change-event.js";
import { DLQ_HEADERS, type PublishedRecord } from "../publish/output-record.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import type { WorkerObserver } from "../worker/observer.js";
import type { Outcome } from "../worker/record-processor.js";
import type { HeldOutcome } from "../worker/held-changes.js";

/** Prefix of every changecast metric. */
export const METRIC_PREFIX = "changecast_";

/** A registry with the process metrics (CPU, memory, event loop lag, …) every exporter carries. */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What the metrics read from a Kafka consumer at scrape time (KafkaTransport has it). */
export interface ConsumerSource {
  stats: { rebalances: number };
  lag(): { topic: string; partition: number; lag: number }[];
}

/** Seconds: a batch (process + deliver) usually takes milliseconds; a delivery that retries, seconds. */
const BATCH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds from the source commit to publication: sub-second when caught up, up to hours for a backlog. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];

export class WorkerMetrics {
  readonly registry: Registry;
  readonly recordsIn: Counter;
  readonly eventsOut: Counter<"type">;
  readonly filtered: Counter<"reason">;
  readonly deadLetters: Counter<"stage" | "code">;
  /** records parked until their parent row arrives (requires:), released again, or timed out */
  readonly parked: Counter;
  readonly released: Counter;
  readonly timedOut: Counter;
  /** transaction aggregates evaluated, by whether they were complete or published partial */
  readonly aggregates: Counter<"partial">;
  readonly batchDuration: Histogram;
  readonly endToEndLatency: Histogram;
  readonly consumerLag: Gauge<"topic" | "partition">;
  readonly rebalances: Counter;
  readonly registryRequests: Counter<"operation">;
  readonly registryErrors: Counter<"operation">;
  readonly lastProgress: Gauge;
  private consumer: ConsumerSource | null = null;
  private rebalancesSeen = 0;

  constructor(
    registry: Registry = createMetricsRegistry(),
    private readonly now: () => number = Date.now,
  ) {
    this.registry = registry;
    const registers = [registry];
    const p = METRIC_PREFIX;
    this.recordsIn = new Counter({ name: `${p}records_in_total`, help: "source records read", registers });
    this.eventsOut = new Counter({
      name: `${p}events_out_total`,
      help: "business events published, by event type (ce_type)",
      labelNames: ["type"],
      registers,
    });
    this.filtered = new Counter({
      name: `${p}records_filtered_total`,
      help: "source records that yield no event (tombstone, heartbeat, transaction, message, no-matching-event)",
      labelNames: ["reason"],
      registers,
    });
    this.deadLetters = new Counter({
      name: `${p}dead_letters_total`,
      help: "source records dead-lettered, by stage and error code (docs/errors.md)",
      labelNames: ["stage", "code"],
      registers,
    });
    this.parked = new Counter({ name: `${p}records_parked_total`, help: "records parked", registers });
    this.released = new Counter({
      name: `${p}records_released_total`,
      help: "parked records released",
      registers,
    });
    this.timedOut = new Counter({
      name: `${p}records_timed_out_total`,
      help: "parked records whose parent did not arrive within their timeout",
      registers,
    });
    this.aggregates = new Counter({
      name: `${p}aggregates_total`,
      help: "transaction aggregates evaluated (partial: incomplete at source.transactionTimeout)",
      labelNames: ["partial"],
      registers,
    });
    this.batchDuration = new Histogram({
      name: `${p}batch_duration_seconds`,
      help: "time from a batch leaving the transport to its outputs durable and positions committed",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.endToEndLatency = new Histogram({
      name: `${p}end_to_end_latency_seconds`,
      help: "time from the source commit (the event's timestamp) to its publication",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // prom-client calls collect() with the metric as `this`; these read the worker's state through closures
    const lagOf = () => this.consumer?.lag() ?? [];
    const rebalancesNew = () => {
      const seen = this.consumer?.stats.rebalances ?? 0;
      const added = Math.max(0, seen - this.rebalancesSeen);
      this.rebalancesSeen = Math.max(seen, this.rebalancesSeen);
      return added;
    };
    this.consumerLag = new Gauge({
      name: `${p}consumer_lag_records`,
      help: "records not processed yet per assigned source partition (high watermark - next offset)",
      labelNames: ["topic", "partition"],
      registers,
      collect() {
        this.reset();
        for (const l of lagOf()) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
      },
    });
    this.rebalances = new Counter({
      name: `${p}rebalances_total`,
      help: "consumer group joins with a new assignment (the first one included)",
      registers,
      collect() {
        const added = rebalancesNew();
        if (added > 0) this.inc(added);
      },
    });
    this.registryRequests = new Counter({
      name: `${p}registry_requests_total`,
      help: "schema registry calls, by operation",
      labelNames: ["operation"],
      registers,
    });
    this.registryErrors = new Counter({
      name: `${p}registry_errors_total`,
      help: "schema registry calls that failed, by operation",
      labelNames: ["operation"],
      registers,
    });
    this.lastProgress = new Gauge({
      name: `${p}last_progress_timestamp_seconds`,
      help: "when the worker last delivered a batch (unix seconds)",
      registers,
    });
  }

  /** Reads lag and rebalances from this consumer at every scrape (a new consumer replaces the previous one). */
  watchConsumer(consumer: ConsumerSource): void {
    this.consumer = consumer;
    this.rebalancesSeen = 0;
  }

  /** One record's outcome: the same counts as RunStats.count, with the error code of a dead letter. */
  countOutcome(outcome: Outcome): void {
    // a parked record is counted once, when it is finally mapped, filtered or dead-lettered (countHeld)
    if (outcome.kind === "held") {
      this.parked.inc();
      return;
    }
    this.recordsIn.inc();
    switch (outcome.kind) {
      case "events":
        for (const { view } of outcome.records)
          this.eventsOut.inc({ type: view.headers.ce_type ?? view.topic });
        break;
      case "filtered":
        this.filtered.inc({ reason: outcome.reason });
        break;
      case "dead-letter":
        this.countDeadLetter(outcome);
        break;
    }
  }

  private countDeadLetter(outcome: Extract<Outcome, { kind: "dead-letter" }>): void {
    const code = outcome.record.record.headers[DLQ_HEADERS.code] ?? "INTERNAL";
    this.deadLetters.inc({ stage: outcome.stage, code });
  }

  /** A held change's end (released, timed out) or a transaction aggregate evaluated, as RunStats.countHeld. */
  countHeld(held: HeldOutcome): void {
    if (held.kind === "aggregate") {
      // an aggregate's dead letter is no source record of its own: not counted as a record in
      if (held.deadLetter?.kind === "dead-letter") this.countDeadLetter(held.deadLetter);
      else if (!held.deadLetter) {
        this.aggregates.inc({ partial: String(held.partial) });
        for (const { view } of held.records) this.eventsOut.inc({ type: view.headers.ce_type ?? view.topic });
      }
      return;
    }
    (held.kind === "released" ? this.released : this.timedOut).inc();
    this.countOutcome(held.outcome);
  }

  /** A delivered batch: its duration and the end-to-end latency of every event it published. */
  batchDelivered(seconds: number, outputs: readonly PublishedRecord[]): void {
    const now = this.now();
    this.batchDuration.observe(seconds);
    this.lastProgress.set(now / 1000);
    for (const { record } of outputs) {
      // a dead letter's timestamp is its source record's, not an event's commit time
      if (record.headers[DLQ_HEADERS.code] !== undefined) continue;
      if (Number.isFinite(record.timestamp) && record.timestamp > 0)
        this.endToEndLatency.observe(Math.max(0, now - record.timestamp) / 1000);
    }
  }

  /** The worker loop's hooks (worker/observer.ts) feeding these metrics. */
  observer(): WorkerObserver {
    let polledAt = 0;
    return {
      batchPolled: () => {
        polledAt = performance.now();
      },
      outcome: (outcome) => this.countOutcome(outcome),
      held: (held) => this.countHeld(held),
      batchDelivered: (_consumed: readonly SourceRecord[], outputs) =>
        this.batchDelivered((performance.now() - polledAt) / 1000, outputs),
    };
  }

  /** The registry port with every call counted (and every failed call counted as an error). */
  instrumentRegistry(registry: SchemaRegistry): SchemaRegistry {
    const count = <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) => {
      return async (...args: A): Promise<R> => {
        this.registryRequests.inc({ operation });
        try {
          return await call(...args);
        } catch (err) {
          this.registryErrors.inc({ operation });
          throw err;
        }
      };
    };
    const counted: SchemaRegistry = {
      register: count("register", (subject: string, schema: string) => registry.register(subject, schema)),
      lookup: count("lookup", (subject: string, schema: string) => registry.lookup(subject, schema)),
      schemaById: count("schemaById", (id: number) => registry.schemaById(id)),
      latest: count("latest", (subject: string) => registry.latest(subject)),
      versions: count("versions", (subject: string) => registry.versions(subject)),
      compatibility: count("compatibility", (subject?: string) => registry.compatibility(subject)),
      setCompatibility: count(
        "setCompatibility",
        (level: Parameters<SchemaRegistry["setCompatibility"]>[0], subject?: string) =>
          registry.setCompatibility(level, subject),
      ),
      testCompatibility: count("testCompatibility", (subject: string, schema: string) =>
        registry.testCompatibility(subject, schema),
      ),
    };
    if (registry.close) counted.close = () => registry.close!();
    return counted;
  }
}

/** Both observers called in turn (metrics and liveness watch the same loop). */
export function combineObservers(...observers: WorkerObserver[]): WorkerObserver {
  return {
    batchPolled: (records) => observers.forEach((o) => o.batchPolled?.(records)),
    outcome: (outcome, record) => observers.forEach((o) => o.outcome?.(outcome, record)),
    batchDelivered: (consumed, outputs) => observers.forEach((o) => o.batchDelivered?.(consumed, outputs)),
  };
}
