// One error model for every stage (neutral: imports nothing from the stages). Every error class in src extends
// ChangecastError with a stable `code`; the code decides the stage and whether retrying can help. The table
// ERROR_CODES is documented in docs/errors.md (test/errors.test.ts keeps the two equal).

/** Where an error happened. The per-record stages (DECODE … PUBLISH) are also the dead letter's stage header. */
export type Stage =
  | "CONFIG"
  | "DECODE"
  | "ROUTE"
  | "MAP"
  | "ENCODE"
  | "PUBLISH"
  | "STATE"
  | "REGISTRY"
  | "MIGRATE"
  | "CLI"
  | "WORKER"
  | "SINK";

interface CodeInfo {
  stage: Stage;
  retriable: boolean;
}

/** Every stable error code, its stage and whether retrying the same operation can succeed. */
export const ERROR_CODES = {
  CONFIG_INVALID: { stage: "CONFIG", retriable: false },
  CONFIG_ENV: { stage: "CONFIG", retriable: false },
  CONFIG_KAFKA_CLIENT: { stage: "CONFIG", retriable: false },
  CONFIG_FILE_UNREADABLE: { stage: "CONFIG", retriable: false },
  DECODE_INVALID_RECORD: { stage: "DECODE", retriable: false },
  DECODE_TOO_LARGE: { stage: "DECODE", retriable: false },
  DECODE_SCHEMA_CONFLICT: { stage: "DECODE", retriable: false },
  DECODE_SCHEMA_NOT_CAPTURED: { stage: "DECODE", retriable: false },
  ROUTE_UNKNOWN_TABLE: { stage: "ROUTE", retriable: false },
  MAP_FIELD: { stage: "MAP", retriable: false },
  MAP_EXPRESSION: { stage: "MAP", retriable: false },
  MAP_EVALUATION_LIMIT: { stage: "MAP", retriable: false },
  MAP_LIMIT_EXCEEDED: { stage: "MAP", retriable: false },
  MAP_DEPENDENCY_TIMEOUT: { stage: "MAP", retriable: false },
  ENCODE_COERCION: { stage: "ENCODE", retriable: false },
  ENCODE_REASON: { stage: "ENCODE", retriable: false },
  ENCODE_SCHEMA_INVALID: { stage: "ENCODE", retriable: false },
  ENCODE_WIRE_FORMAT: { stage: "ENCODE", retriable: false },
  ENCODE_TOO_LARGE: { stage: "ENCODE", retriable: false },
  ENCODE_FAILED: { stage: "ENCODE", retriable: false },
  PUBLISH_COMPRESSION_CODEC: { stage: "PUBLISH", retriable: false },
  PUBLISH_BATCH_DECOMPRESSION: { stage: "PUBLISH", retriable: false },
  PUBLISH_ASSIGNMENT_LOST: { stage: "PUBLISH", retriable: true },
  PUBLISH_KAFKA_FATAL: { stage: "PUBLISH", retriable: false },
  REGISTRY_UNAVAILABLE: { stage: "REGISTRY", retriable: true },
  REGISTRY_AUTH: { stage: "REGISTRY", retriable: false },
  REGISTRY_REJECTED: { stage: "REGISTRY", retriable: false },
  REGISTRY_INCOMPATIBLE: { stage: "REGISTRY", retriable: false },
  REGISTRY_INVALID_SCHEMA: { stage: "REGISTRY", retriable: false },
  REGISTRY_STARTUP_INCOMPATIBLE: { stage: "REGISTRY", retriable: false },
  STATE_STORE: { stage: "STATE", retriable: false },
  STATE_UNAVAILABLE: { stage: "STATE", retriable: true },
  STATE_LOCKED: { stage: "STATE", retriable: false },
  MIGRATE_REFUSED: { stage: "MIGRATE", retriable: false },
  MIGRATE_STATE: { stage: "MIGRATE", retriable: false },
  MIGRATE_GROUP_BUSY: { stage: "MIGRATE", retriable: false },
  MIGRATE_GROUP_MOVED: { stage: "MIGRATE", retriable: false },
  CLI_INPUT: { stage: "CLI", retriable: false },
  WORKER_STOPPED: { stage: "WORKER", retriable: false },
  SINK_DECODE: { stage: "SINK", retriable: false },
  SINK_PROJECT: { stage: "SINK", retriable: false },
  SINK_APPLY: { stage: "SINK", retriable: false },
  SINK_STOPPED: { stage: "SINK", retriable: false },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The code a dead letter carries for an error that is no ChangecastError (a bug, or a library's own error). */
export const INTERNAL_CODE = "INTERNAL";

/**
 * The base of every changecast error: a stable `code` (see ERROR_CODES), the `stage` it belongs to and whether
 * it is `retriable`. Subclasses keep their own `name` and message; `cause` is kept (ErrorOptions).
 */
export abstract class ChangecastError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
  get stage(): Stage {
    return ERROR_CODES[this.code].stage;
  }
  get retriable(): boolean {
    return ERROR_CODES[this.code].retriable;
  }
}

/** The stable code of any thrown value: its own code, or INTERNAL. */
export function errorCode(err: unknown): ErrorCode | typeof INTERNAL_CODE {
  return err instanceof ChangecastError ? err.code : INTERNAL_CODE;
}

// -- retriable or not: changecast's own errors, kafkajs', pg's, sqlite's and the network's -------------------

/** kafkajs protocol error types that retrying cannot fix. */
const KAFKA_PERMANENT_TYPES = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "UNSUPPORTED_VERSION",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "INVALID_REQUIRED_ACKS",
]);
/** Error names that retrying cannot fix (kafkajs' own, and programming errors). */
const PERMANENT_NAMES = new Set([
  "KafkaJSSASLAuthenticationError",
  "KafkaJSNotImplemented",
  "KafkaJSServerDoesNotSupportApiKey",
  "TypeError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
]);
/** pg SQLSTATEs, sqlite result codes and Node network codes of a transient failure. */
const TRANSIENT_CODES = new Set([
  "40001", // postgres serialization_failure
  "40P01", // postgres deadlock_detected
  "53300", // postgres too_many_connections
  "57P01", // postgres admin_shutdown
  "57P02", // postgres crash_shutdown
  "57P03", // postgres cannot_connect_now
  "08000",
  "08001",
  "08003",
  "08004",
  "08006", // postgres connection exceptions
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
]);
/** sqlite result codes that retrying cannot fix. */
const PERMANENT_CODES = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_READONLY", "SQLITE_FULL"]);

function chain(err: unknown): unknown[] {
  const links: unknown[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== null && e !== undefined && depth < 8; depth++) {
    links.push(e);
    e = e instanceof Error ? e.cause : undefined;
  }
  return links;
}

/**
 * Whether retrying the failed operation can succeed, read from the error and its causes: a ChangecastError's
 * `retriable`; kafkajs' permanent protocol errors (authorization, too large, unsupported …) and programming
 * errors are not; pg/sqlite transient failures (serialization failure, deadlock, connection lost, SQLITE_BUSY)
 * and network errors are. Anything permanent in the chain wins. An error that says neither is `unknown`
 * (default false: not retried).
 */
export function isRetriable(err: unknown, unknown = false): boolean {
  const links = chain(err);
  let transient = false;
  for (const e of links) {
    if (e instanceof ChangecastError) {
      if (!e.retriable) return false;
      transient = true;
      continue;
    }
    if (typeof e !== "object" || e === null) continue;
    const { name, type, code } = e as { name?: unknown; type?: unknown; code?: unknown };
    if (typeof type === "string" && KAFKA_PERMANENT_TYPES.has(type)) return false;
    if (typeof name === "string" && PERMANENT_NAMES.has(name)) return false;
    if (typeof code === "string") {
      if (PERMANENT_CODES.has(code)) return false;
      if (TRANSIENT_CODES.has(code)) transient = true;
    }
  }
  return transient || unknown;
}
