// The one declaration of every environment variable changecast reads as a setting: what it is, its default,
// how it is validated, and whether it is a secret. Code reads them through envValue / envMs / envFlag (never
// `env.X` ad hoc); scripts/gen-config-docs.ts renders the reference's table from ENV_VARS. A secret's value is
// never printed: the reference shows no default or example for it, and secretEnvValues lists the values that
// error texts and logs mask (redactText).
import { z } from "zod";
import { ChangecastError } from "../errors.js";

export interface EnvVar {
  /** who reads it (the reference's "used by" column) */
  usedBy: string;
  description: string;
  /** the default as the reference shows it (markdown); absent: unset means off / not given */
  default?: string;
  /** a credential: its value is never shown (docs, logs, error messages) */
  secret?: boolean;
  /**
   * A number of milliseconds (a positive integer), or the default; the number is the default where it is fixed
   * (absent: it derives from other settings, see the description).
   */
  ms?: { default?: number };
}

const KAFKA = "Kafka";
const CONSUMER = "Kafka consumer";
const REGISTRY = "registry";
const CONNECT = "`connectors`";
const EXAMPLE = "the example `changecast.yaml`";

export const ENV_VARS = {
  KAFKA_BROKERS: { usedBy: EXAMPLE, description: "expanded into `kafka.brokers`" },
  SCHEMA_REGISTRY_URL: { usedBy: EXAMPLE, description: "expanded into `registry.url`" },
  STATE_URL: {
    usedBy: `${EXAMPLE}, \`registry serve\``,
    description:
      "expanded into `state`; the state store of `registry serve` when `--state` is not given (default `sqlite:.changecast/state.sqlite`)",
  },
  SINK_DATABASE_URL: {
    usedBy: "the example `changecast.sink.yaml`",
    description:
      "expanded into `target.url` (default `sqlite:.changecast/sink.sqlite`); shown with its password masked",
  },
  KAFKA_SASL_MECHANISM: {
    usedBy: KAFKA,
    description:
      "SASL mechanism: `plain`, `scram-sha-256` or `scram-sha-512` (needs the user name and password)",
  },
  KAFKA_SASL_USERNAME: { usedBy: KAFKA, description: "SASL user name" },
  KAFKA_SASL_PASSWORD: { usedBy: KAFKA, description: "SASL password", secret: true },
  KAFKA_SSL: {
    usedBy: KAFKA,
    description: "TLS: `true`/`1`/`yes` or `false`/`0`/`no`; a PEM file below implies `true`",
  },
  KAFKA_SSL_CA_FILE: { usedBy: KAFKA, description: "TLS: PEM file of the CA certificates to trust" },
  KAFKA_SSL_CERT_FILE: {
    usedBy: KAFKA,
    description: "TLS: PEM file of the client certificate (with `KAFKA_SSL_KEY_FILE`)",
  },
  KAFKA_SSL_KEY_FILE: {
    usedBy: KAFKA,
    description: "TLS: PEM file of the client key (with `KAFKA_SSL_CERT_FILE`)",
  },
  KAFKA_CONNECTION_TIMEOUT_MS: {
    usedBy: KAFKA,
    description: "connection timeout (ms)",
    default: "`3000`",
    ms: { default: 3_000 },
  },
  KAFKA_REQUEST_TIMEOUT_MS: {
    usedBy: KAFKA,
    description: "request timeout (ms)",
    default: "`30000`",
    ms: { default: 30_000 },
  },
  KAFKA_SESSION_TIMEOUT_MS: {
    usedBy: CONSUMER,
    description: "consumer group session timeout (ms)",
    default: "`30000`",
    ms: { default: 30_000 },
  },
  KAFKA_HEARTBEAT_INTERVAL_MS: {
    usedBy: CONSUMER,
    description: "consumer group heartbeat interval (ms)",
    default: "min(3000, session timeout / 3)",
    ms: {},
  },
  KAFKA_FETCH_MAX_WAIT_MS: {
    usedBy: CONSUMER,
    description:
      "longest wait of a fetch (ms); must be below the session timeout (kafkajs heartbeats only between fetches)",
    default: "session timeout / 3, between 100 and 5000",
    ms: {},
  },
  KAFKA_METADATA_MAX_AGE_MS: {
    usedBy: CONSUMER,
    description: "how long metadata (which broker leads what) is kept before it is refreshed (ms)",
    default: "`30000`",
    ms: { default: 30_000 },
  },
  SCHEMA_REGISTRY_USERNAME: {
    usedBy: REGISTRY,
    description: "basic auth user name (else the URL's user info)",
  },
  SCHEMA_REGISTRY_PASSWORD: {
    usedBy: REGISTRY,
    description: "basic auth password (else the URL's user info)",
    secret: true,
  },
  SCHEMA_REGISTRY_TOKEN: {
    usedBy: REGISTRY,
    description: "bearer token (instead of basic auth)",
    secret: true,
  },
  KAFKA_CONNECT_URL: {
    usedBy: CONNECT,
    description: "Kafka Connect REST URL (`--connect-url` takes precedence)",
    default: "`http://localhost:8083`",
  },
  KAFKA_CONNECT_USERNAME: {
    usedBy: CONNECT,
    description: "basic auth user name for Kafka Connect (else the URL's user info)",
  },
  KAFKA_CONNECT_PASSWORD: {
    usedBy: CONNECT,
    description: "basic auth password for Kafka Connect (else the URL's user info)",
    secret: true,
  },
  LOG_LEVEL: {
    usedBy: "`run`, `replay`, `migrate`",
    description:
      "log level (`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`); overrides `log.level`",
    default: "`log.level`, else `info`",
  },
  LOG_FORMAT: {
    usedBy: "`run`, `replay`, `migrate`",
    description: "`json`, `pretty` or `auto` (pretty on a terminal); overrides `log.format`",
    default: "`log.format`, else `auto`",
  },
  CHANGECAST_OPS_PORT: {
    usedBy: "`run`",
    description:
      "port of `/metrics`, `/healthz`, `/readyz`; overrides `ops.port` (empty: the setting's value)",
  },
  CHANGECAST_OPS_HOST: {
    usedBy: "`run`",
    description: "address the operations endpoint binds; overrides `ops.host`",
  },
  CHANGECAST_WORKER_INDEX: {
    usedBy: "`run --workers N` (set for each worker process)",
    description:
      "the worker's number, 0 to N-1, which `run --workers` gives each process; its operations endpoint listens on the port plus this number",
  },
} satisfies Record<string, EnvVar>;

export type EnvName = keyof typeof ENV_VARS;

/** An invalid environment variable (the message names it, never a secret's value). */
export class EnvError extends ChangecastError {
  readonly code = "CONFIG_ENV";
  override readonly name = "EnvError";
}

/** The raw value of a declared variable (undefined when unset). */
export function envValue(env: NodeJS.ProcessEnv, name: EnvName): string | undefined {
  return env[name];
}

/** The value of a declared variable, with an unset or empty one taken as absent. */
export function envText(env: NodeJS.ProcessEnv, name: EnvName): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

const positiveInt = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * A millisecond setting: a positive integer, or the default (the declared one, or `def` where it derives from
 * other settings). Throws `makeError("<NAME>: \"<text>\" is not a positive integer")`.
 */
export function envMs(
  env: NodeJS.ProcessEnv,
  name: EnvName,
  def?: number,
  makeError: (message: string) => Error = (m) => new EnvError(m),
): number {
  const declared = (ENV_VARS[name] as EnvVar).ms;
  const fallback = def ?? declared?.default;
  if (fallback === undefined) throw new Error(`${name} has no default`);
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const parsed = positiveInt.safeParse(raw);
  if (!parsed.success) throw makeError(`${name}: "${raw}" is not a positive integer`);
  return parsed.data;
}

/** A boolean setting (`true`/`1`/`yes`, `false`/`0`/`no`, any case); undefined when unset or empty. */
export function envFlag(
  env: NodeJS.ProcessEnv,
  name: EnvName,
  makeError: (message: string) => Error = (m) => new EnvError(m),
): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return undefined;
  if (["true", "1", "yes"].includes(raw)) return true;
  if (["false", "0", "no"].includes(raw)) return false;
  throw makeError(`${name}: "${env[name]}" is not true or false`);
}

/** The values of the secret variables that are set: what logs and error texts mask. */
export function secretEnvValues(env: NodeJS.ProcessEnv): string[] {
  return (Object.entries(ENV_VARS) as [EnvName, EnvVar][])
    .filter(([name, v]) => v.secret && env[name])
    .map(([name]) => env[name] as string);
}
