// `run`'s operations endpoint from changecast.yaml (`ops`) and the environment (CHANGECAST_OPS_PORT / _HOST).
import { EnvError, envText } from "../config/env.js";
import type { PipelineConfig } from "../config/pipeline-config.js";
import { startWorkerOps, type WorkerOps } from "../observe/worker-ops.js";
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
