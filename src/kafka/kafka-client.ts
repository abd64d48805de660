// kafkajs client options from the pipeline config (brokers, client id) and the environment (security, tuning).
// Secrets come only from the environment (docs/configuration.md): SASL credentials and TLS material are never read from YAML.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import {
  logLevel,
  type KafkaConfig,
  type LogEntry,
  type logCreator,
  type RetryOptions,
  type SASLOptions,
} from "kafkajs";
import { envFlag, envMs, envValue, type EnvName } from "../config/env.js";
import { registerCompressionCodecs } from "./compression.js";
import { ChangecastError } from "../errors.js";

export class KafkaClientConfigError extends ChangecastError {
  readonly code = "CONFIG_KAFKA_CLIENT";
  override readonly name = "KafkaClientConfigError";
}

// kafkajs (2.2.4) schedules its throttle check with `setTimeout(fn, throttledUntil - Date.now())` before any
// throttling, a negative delay that Node clamps to 1 ms (what kafkajs means) and reports as a
// TimeoutNegativeWarning on stderr in every run: that one warning is dropped, every other one still shows.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  const name = typeof warning === "string" ? type : warning.name;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;
type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** One log line of kafkajs, handed to the worker's logger. */
export type KafkaLogSink = (
  level: "error" | "warn" | "info" | "debug",
  message: string,
  fields: Record<string, unknown>,
) => void;

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  env?: NodeJS.ProcessEnv;
  log?: KafkaLogSink;
}

/** Retry of kafkajs requests: transient broker errors back off up to 5 s; the transport retries on top of this. */
export const CLIENT_RETRY: RetryOptions = {
  initialRetryTime: 100,
  maxRetryTime: 5_000,
  factor: 0.2,
  multiplier: 2,
  retries: 8,
};

const configError = (message: string) => new KafkaClientConfigError(message);

function readPem(env: NodeJS.ProcessEnv, name: EnvName): string | undefined {
  const path = envValue(env, name)?.trim();
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new KafkaClientConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/** SASL from KAFKA_SASL_MECHANISM / KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD; undefined when no mechanism is set. */
export function saslFromEnv(env: NodeJS.ProcessEnv): SASLOptions | undefined {
  const given = envValue(env, "KAFKA_SASL_MECHANISM");
  const raw = given?.trim().toLowerCase();
  if (!raw) return undefined;
  if (!(SASL_MECHANISMS as readonly string[]).includes(raw)) {
    throw new KafkaClientConfigError(
      `KAFKA_SASL_MECHANISM: "${given}" is not one of ${SASL_MECHANISMS.join(", ")}`,
    );
  }
  const mechanism = raw as SaslMechanism;
  const username = envValue(env, "KAFKA_SASL_USERNAME") ?? "";
  const password = envValue(env, "KAFKA_SASL_PASSWORD") ?? "";
  if (!username || !password) {
    throw new KafkaClientConfigError(
      `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
    );
  }
  return { mechanism, username, password };
}

/**
 * TLS from KAFKA_SSL and the PEM files KAFKA_SSL_CA_FILE / KAFKA_SSL_CERT_FILE / KAFKA_SSL_KEY_FILE.
 * A file implies TLS; KAFKA_SSL=false together with a file is a contradiction and refused.
 */
export function sslFromEnv(env: NodeJS.ProcessEnv): ConnectionOptions | boolean | undefined {
  const enabled = envFlag(env, "KAFKA_SSL", configError);
  const ca = readPem(env, "KAFKA_SSL_CA_FILE");
  const cert = readPem(env, "KAFKA_SSL_CERT_FILE");
  const key = readPem(env, "KAFKA_SSL_KEY_FILE");
  const hasFiles = ca !== undefined || cert !== undefined || key !== undefined;
  if (enabled === false && hasFiles) {
    throw new KafkaClientConfigError("KAFKA_SSL=false but KAFKA_SSL_*_FILE is set");
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new KafkaClientConfigError(
      "KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (client certificate)",
    );
  }
  if (!hasFiles) return enabled ? true : undefined;
  const options: ConnectionOptions = {};
  if (ca !== undefined) options.ca = [ca];
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  return options;
}

/** Positive integer from the environment (milliseconds), or the default (declared in config/env.ts, or def). */
export function msFromEnv(env: NodeJS.ProcessEnv, name: EnvName, def?: number): number {
  return envMs(env, name, def, configError);
}

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

function logCreatorFor(sink: KafkaLogSink): logCreator {
  return () =>
    ({ level, namespace, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _logger, ...fields } = log;
      sink(LEVELS[level] ?? "info", `kafkajs ${namespace}: ${message}`, fields);
    };
}

/** The kafkajs client config: brokers and client id from the pipeline config, security from the environment. */
export function kafkaClientConfig(options: KafkaClientOptions): KafkaConfig {
  const env = options.env ?? process.env;
  if (options.brokers.length === 0) throw new KafkaClientConfigError("kafka.brokers is empty");
  // every kafkajs client of changecast is made from this config: all of them read gzip, snappy, lz4 and zstd
  registerCompressionCodecs();
  const config: KafkaConfig = {
    brokers: options.brokers,
    clientId: options.clientId,
    connectionTimeout: msFromEnv(env, "KAFKA_CONNECTION_TIMEOUT_MS"),
    requestTimeout: msFromEnv(env, "KAFKA_REQUEST_TIMEOUT_MS"),
    retry: CLIENT_RETRY,
    logLevel: logLevel.WARN,
  };
  const sasl = saslFromEnv(env);
  if (sasl) config.sasl = sasl;
  const ssl = sslFromEnv(env);
  if (ssl !== undefined) config.ssl = ssl;
  if (options.log) config.logCreator = logCreatorFor(options.log);
  return config;
}

/**
 * Consumer group timing, tunable from the environment (KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS,
 * KAFKA_METADATA_MAX_AGE_MS, KAFKA_FETCH_MAX_WAIT_MS).
 *
 * kafkajs heartbeats only between fetches, so a fetch that long-polls an idle partition must return well within
 * the session timeout: the fetch wait defaults to a third of it (at most 5 s, kafkajs' default), else an idle
 * worker with a short session timeout is evicted and rejoins over and over. The metadata max age (default 30 s;
 * kafkajs' own default is 5 min) bounds how long a broker that came back stays out of the fetch plan.
 */
export function consumerTiming(env: NodeJS.ProcessEnv = process.env): {
  sessionTimeout: number;
  heartbeatInterval: number;
  maxWaitTimeInMs: number;
  metadataMaxAge: number;
} {
  const sessionTimeout = msFromEnv(env, "KAFKA_SESSION_TIMEOUT_MS");
  const heartbeatInterval = msFromEnv(
    env,
    "KAFKA_HEARTBEAT_INTERVAL_MS",
    Math.min(3_000, Math.floor(sessionTimeout / 3)),
  );
  const maxWaitTimeInMs = msFromEnv(
    env,
    "KAFKA_FETCH_MAX_WAIT_MS",
    Math.max(100, Math.min(5_000, Math.floor(sessionTimeout / 3))),
  );
  if (maxWaitTimeInMs >= sessionTimeout)
    throw new KafkaClientConfigError(
      `KAFKA_FETCH_MAX_WAIT_MS (${maxWaitTimeInMs}) must be below the session timeout (${sessionTimeout})`,
    );
  const metadataMaxAge = msFromEnv(env, "KAFKA_METADATA_MAX_AGE_MS");
  return { sessionTimeout, heartbeatInterval, maxWaitTimeInMs, metadataMaxAge };
}
