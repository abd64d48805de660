// The log of every command (docs/operations.md, "Logs"): pino on stderr, one JSON object per line where a machine
// reads it (not a terminal, or `log.format: json`), one human-readable line per entry on a terminal. A command's
// own output (replay's records, run's summary, check's problems, progress) stays on its CommandIO; logs are what
// happened along the way. Credentials never reach a line: URLs lose their passwords, secret environment values
// and fields named like secrets are masked.
import { hostname } from "node:os";
import { levels, pino, stdTimeFunctions, type Logger } from "pino";
import { EnvError, envText, secretEnvValues } from "../config/env.js";
import { readPipelineConfig } from "../config/pipeline-config.js";
import { redactText } from "../config/redact.js";

export type { Logger };

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go: process.stderr, or a test's collector. */
export interface LogStream {
  write(line: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  /** `log.format` / `log.level` of changecast.yaml, when the command read one */
  settings?: { format: LogFormat; level: LogLevel } | undefined;
  env?: NodeJS.ProcessEnv;
  stream?: LogStream;
  /** fields on every line (e.g. the pipeline) */
  base?: Record<string, unknown>;
}

const MASK = "***";
/** Fields masked wherever they appear (one level deep too): credentials kafkajs or a library might log. */
const SECRET_FIELDS = ["password", "passwd", "secret", "token", "authorization", "apiKey", "api_key"];
const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  "sasl.password",
  "ssl.key",
  "headers.authorization",
  "headers.Authorization",
];

function choice<T extends string>(
  name: "LOG_FORMAT" | "LOG_LEVEL",
  values: readonly T[],
  env: NodeJS.ProcessEnv,
) {
  const raw = envText(env, name)?.trim().toLowerCase();
  if (raw === undefined) return undefined;
  if (!(values as readonly string[]).includes(raw))
    throw new EnvError(`${name}: "${raw}" is not one of ${values.join(", ")}`);
  return raw as T;
}

/** The level and format in force: the environment over changecast.yaml over the defaults. */
export function logSettings(options: LoggerOptions = {}): { level: LogLevel; format: "json" | "pretty" } {
  const env = options.env ?? process.env;
  const level = choice("LOG_LEVEL", LOG_LEVELS, env) ?? options.settings?.level ?? "info";
  const format = choice("LOG_FORMAT", LOG_FORMATS, env) ?? options.settings?.format ?? "auto";
  const stream = options.stream ?? process.stderr;
  return { level, format: format === "auto" ? (stream.isTTY ? "pretty" : "json") : format };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const { level, format } = logSettings(options);
  const stream = options.stream ?? process.stderr;
  const secrets = secretEnvValues(env);
  return pino(
    {
      name: "changecast",
      level,
      // which process of which pod or host wrote the line, then the command's own fields
      base: { pid: process.pid, hostname: hostname(), ...options.base },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: MASK },
      serializers: { err: (err: unknown) => serializeError(err, secrets) },
      hooks: {
        // messages and field values from libraries (kafkajs, pg, fetch) may quote a URL with its credentials
        logMethod(args, method) {
          const clean = (args as unknown[]).map((a) => redactDeep(a, secrets, 0));
          return method.apply(this, clean as Parameters<typeof method>);
        },
      },
    },
    format === "pretty" ? prettyStream(stream) : { write: (line: string) => void stream.write(line) },
  );
}

/**
 * The logger of a command that takes `--config`: `log.*` of that file when it reads (its problems are the
 * command's to report), else the environment and the defaults.
 */
export function commandLogger(configFile: string | undefined, base: Record<string, unknown> = {}): Logger {
  let settings: LoggerOptions["settings"];
  let pipeline: string | undefined;
  try {
    const config = configFile ? readPipelineConfig(configFile).config : null;
    settings = config?.log;
    pipeline = config?.pipeline;
  } catch {
    settings = undefined;
  }
  return createLogger({ settings, base: { ...(pipeline ? { pipeline } : {}), ...base } });
}

function serializeError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return redactDeep(err, secrets, 0);
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: redactText(err.message, secrets),
    ...(typeof code === "string" ? { code } : {}),
    ...(err.stack ? { stack: redactText(err.stack, secrets) } : {}),
  };
}

/** Strings masked by redactText, in objects and arrays a few levels deep; errors to plain objects. */
function redactDeep(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (value === null || typeof value !== "object" || depth > 4) return value;
  if (value instanceof Error) return serializeError(value, secrets);
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, secrets, depth + 1);
  return out;
}

const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** Human-readable lines: the message (prefixed by its level from warn up), then the other fields as k=v. */
function prettyStream(stream: LogStream): { write(line: string): void } {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        stream.write(line);
        return;
      }
      // pino's numeric levels (30 info, 40 warn, 50 error …): what log collectors and pino's tools expect
      const level =
        typeof entry.level === "number" ? (levels.labels[entry.level] ?? "") : String(entry.level);
      const prefix = ["warn", "error", "fatal"].includes(level) ? `${level}: ` : "";
      const fields = Object.entries(entry)
        .filter(([k]) => !HIDDEN.has(k))
        .map(
          ([k, v]) => ` ${k}=${typeof v === "string" ? v : k === "err" ? errorText(v) : JSON.stringify(v)}`,
        )
        .join("");
      stream.write(`${prefix}${String(entry.msg ?? "")}${fields}\n`);
    },
  };
}

function errorText(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : JSON.stringify(err);
}
