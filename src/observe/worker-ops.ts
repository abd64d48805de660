// What `run` serves while it runs: the worker's metrics, its liveness and readiness, on one HTTP endpoint.
import type { Registry } from "prom-client";
import { Health } from "./health.js";
import { combineObservers, createMetricsRegistry, WorkerMetrics, type ConsumerSource } from "./metrics.js";
import { startOpsServer, type OpsServer } from "./server.js";
import type { WorkerObserver } from "../worker/observer.js";

export interface WorkerOpsOptions {
  port: number;
  host: string;
  /** liveness: no delivery for this long while records are pending */
  stuckAfterMs: number;
  /** labels on every series (e.g. the pipeline) */
  labels?: Record<string, string>;
  /** a registry of the caller's (default: a new one with the process metrics) */
  registry?: Registry;
}

export interface WorkerOps {
  metrics: WorkerMetrics;
  health: Health;
  server: OpsServer;
  /** metrics and liveness fed by the worker loop (runWorker's `observer`) */
  observer: WorkerObserver;
  /** a Kafka consumer: lag and rebalances in the metrics, lag as pending work, ready once assigned */
  watchConsumer(consumer: ConsumerSource & { assignment: unknown }): void;
  close(): Promise<void>;
}

export async function startWorkerOps(options: WorkerOpsOptions): Promise<WorkerOps> {
  const metrics = new WorkerMetrics(options.registry ?? createMetricsRegistry(options.labels));
  const health = new Health({ stuckAfterMs: options.stuckAfterMs });
  const server = await startOpsServer({
    port: options.port,
    host: options.host,
    registry: metrics.registry,
    liveness: () => health.liveness(),
    readiness: () => health.readiness(),
  });
  return {
    metrics,
    health,
    server,
    observer: combineObservers(metrics.observer(), health.observer()),
    watchConsumer(consumer) {
      metrics.watchConsumer(consumer);
      health.addPendingSource(() => consumer.lag().reduce((sum, l) => sum + l.lag, 0));
      health.addReadyCheck("assigned", () => consumer.assignment !== null);
    },
    close: () => server.close(),
  };
}
