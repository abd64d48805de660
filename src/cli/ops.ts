// `run`'s operations endpoint from changecast.yaml (`ops`) and the environment (CHANGECAST_OPS_PORT / _HOST).
import { EnvError, envText } from "../config/env.js";
import type { PipelineConfig } from "../config/pipeline-config.js";
import { startWorkerOps, type WorkerOps } from "../observe/worker-ops.js";
import { exportCounters } from "../observe/counters.js";
import { createMetricsRegistry, METRIC_PREFIX } from "../observe/metrics.js";
import { startOpsServer, type OpsServer } from "../observe/server.js";
import type { SinkStats } from "../sink/stats.js";
import type { Logger } from "./log.js";

/** Port and host in force, or null when the endpoint is off. */
export function opsAddress(
  config: Pick<PipelineConfig, "ops">,
  env: NodeJS.ProcessEnv,
): { port: number; host: string } | null {
  const rawPort = envText(env, "CHANGECAST_OPS_PORT")?.trim();
  let port = config.ops.port;
  if (rawPort !== undefined && rawPort !== "") {
    const n = Number(rawPort);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new EnvError(`CHANGECAST_OPS_PORT: "${rawPort}" is not a port number (0 to 65535)`);
    port = n;
  }
  if (port === null) return null;
  // `run --workers N`: each worker process serves its own endpoint, on the port plus its number
  const index = Number(envText(env, "CHANGECAST_WORKER_INDEX") ?? 0);
  if (port !== 0 && Number.isInteger(index) && index > 0) port += index;
  return { port, host: envText(env, "CHANGECAST_OPS_HOST")?.trim() || config.ops.host };
}

/** Starts the endpoint when configured (null otherwise) and says where it listens. */
export async function openWorkerOps(
  config: Pick<PipelineConfig, "ops" | "pipeline">,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<WorkerOps | null> {
  const address = opsAddress(config, env);
  if (!address) return null;
  const ops = await startWorkerOps({
    ...address,
    stuckAfterMs: config.ops.stuckAfterMs,
    labels: { pipeline: config.pipeline },
  });
  log.info(
    { url: ops.server.url },
    `changecast: serving /metrics, /healthz and /readyz on ${ops.server.url}`,
  );
  return ops;
}

/**
 * `changecast sink`'s endpoint: its counters (SinkStats) as Prometheus counters, with /healthz and /readyz. Only
 * where CHANGECAST_OPS_PORT is set for the sink's process: a sink often runs beside the worker on one host, which
 * takes `ops.port` of changecast.yaml.
 */
export async function openSinkOps(
  config: Pick<PipelineConfig, "ops">,
  sink: string,
  stats: SinkStats,
  env: NodeJS.ProcessEnv,
): Promise<OpsServer | null> {
  const address = opsAddress({ ops: { ...config.ops, port: null } }, env);
  if (!address) return null;
  const registry = createMetricsRegistry({ sink });
  const p = `${METRIC_PREFIX}sink_`;
  exportCounters(registry, [
    {
      name: `${p}records_read_total`,
      help: "records read from the event topics (files)",
      read: () => stats.read,
    },
    { name: `${p}applied_total`, help: "row operations applied", read: () => stats.applied },
    {
      name: `${p}skipped_total`,
      help: "row operations skipped: the row already holds this event or a later one",
      read: () => stats.skippedOlder,
    },
    { name: `${p}filtered_total`, help: "projections whose `when` was false", read: () => stats.filtered },
    {
      name: `${p}no_projection_total`,
      help: "records whose ce_type no projection handles",
      read: () => stats.noProjection,
    },
    { name: `${p}parked_total`, help: "updates parked until their row exists", read: () => stats.parked },
    {
      name: `${p}dead_letters_total`,
      help: "records dead-lettered, by error code",
      read: () => stats.deadLettersByCode,
      label: "code",
    },
    { name: `${p}batches_total`, help: "database transactions committed", read: () => stats.batches },
  ]);
  return startOpsServer({ ...address, registry });
}
