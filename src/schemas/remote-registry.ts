// The remote adapter of the registry port: a Confluent Schema Registry (or compatible: Redpanda,
// Apicurio ccompat, Karapace) over its REST API, with Node's global fetch.
import type {
  CompatibilityLevel,
  CompatibilityResult,
  RegisteredSchema,
  SchemaRegistry,
} from "./registry.js";
import { isCompatibilityLevel } from "./registry.js";
import { envValue } from "../config/env.js";
import { redactText, splitUrlCredentials } from "../config/redact.js";
import { ChangecastError, isRetriable, type ErrorCode } from "../errors.js";

/** An error answered by a registry: HTTP status and Confluent error_code (0 when there is none). */
export class RegistryError extends ChangecastError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RegistryError";
  }
  /** no answer (status 0) or a 5xx: REGISTRY_UNAVAILABLE (retriable); 401/403: REGISTRY_AUTH; else REGISTRY_REJECTED */
  get code(): ErrorCode {
    if (this.status === 0 || this.status >= 500) return "REGISTRY_UNAVAILABLE";
    if (this.status === 401 || this.status === 403) return "REGISTRY_AUTH";
    return "REGISTRY_REJECTED";
  }
}

/** A schema rejected under the subject's compatibility level (HTTP 409). */
export class CompatibilityError extends RegistryError {
  constructor(
    readonly subject: string,
    readonly reasons: string[],
    message?: string,
  ) {
    super(
      `${message ?? `schema is incompatible with an earlier schema for subject "${subject}"`}` +
        (reasons.length > 0 ? `:\n  ${reasons.join("\n  ")}` : ""),
      409,
      409,
    );
    this.name = "CompatibilityError";
  }
  override get code(): ErrorCode {
    return "REGISTRY_INCOMPATIBLE";
  }
}

export const SCHEMA_REGISTRY_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

export interface RemoteRegistryOptions {
  /** basic auth; default SCHEMA_REGISTRY_USERNAME / SCHEMA_REGISTRY_PASSWORD, or the URL's userinfo */
  username?: string;
  password?: string;
  /** bearer token; default SCHEMA_REGISTRY_TOKEN */
  token?: string;
  /** attempts per request on 5xx and network errors (default 5) */
  maxAttempts?: number;
  /** first backoff delay, doubled per attempt (default 200 ms, capped at 5 s) */
  retryDelayMs?: number;
  /** environment to read credentials from (default process.env) */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

interface ErrorBody {
  error_code?: number;
  message?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RemoteRegistry implements SchemaRegistry {
  readonly baseUrl: string;
  private readonly authorization: string | undefined;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly idBySubjectSchema = new Map<string, RegisteredSchema>();
  private readonly schemaByIdCache = new Map<number, string>();

  constructor(url: string, opts: RemoteRegistryOptions = {}) {
    const env = opts.env ?? process.env;
    // credentials leave the URL here: baseUrl, shown in every error, never carries them
    const split = splitUrlCredentials(url, "registry: Schema Registry URL");
    this.baseUrl = split.url;
    const token = opts.token ?? envValue(env, "SCHEMA_REGISTRY_TOKEN");
    const username = opts.username ?? envValue(env, "SCHEMA_REGISTRY_USERNAME") ?? split.username;
    const password =
      opts.password ??
      envValue(env, "SCHEMA_REGISTRY_PASSWORD") ??
      (split.username ? (split.password ?? "") : undefined);
    if (token) this.authorization = `Bearer ${token}`;
    else if (username !== undefined)
      this.authorization = `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  // -- HTTP ------------------------------------------------------------------------------------------

  /** One REST call with retries on 5xx / network errors; throws RegistryError on an error answer. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: `${SCHEMA_REGISTRY_CONTENT_TYPE}, application/json` };
    if (body !== undefined) headers["content-type"] = SCHEMA_REGISTRY_CONTENT_TYPE;
    if (this.authorization) headers.authorization = this.authorization;
    const url = `${this.baseUrl}${path}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(5000, this.retryDelayMs * 2 ** (attempt - 2)));
      let res: Response;
      try {
        res = await this.fetchImpl(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        // no answer (network): status 0, REGISTRY_UNAVAILABLE (retriable)
        const cause = (err as { cause?: Error }).cause;
        lastError = new RegistryError(
          redactText(
            `registry ${method} ${url}: ${(err as Error).message}${cause ? ` (${cause.message})` : ""}`,
          ),
          0,
          0,
        );
        if (!isRetriable(lastError)) throw lastError;
        continue;
      }
      const text = await res.text();
      if (res.ok) return (text === "" ? undefined : JSON.parse(text)) as T;
      let parsed: ErrorBody = {};
      try {
        parsed = JSON.parse(text) as ErrorBody;
      } catch {
        parsed = { message: text };
      }
      const message = parsed.message ?? `HTTP ${res.status}`;
      const errorCode = typeof parsed.error_code === "number" ? parsed.error_code : res.status;
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError(
          `registry rejected credentials (HTTP ${res.status} on ${method} ${url}): ${message}. ` +
            "Set SCHEMA_REGISTRY_USERNAME / SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_TOKEN",
          res.status,
          errorCode,
        );
      }
      const error = new RegistryError(`registry ${method} ${url}: ${message}`, res.status, errorCode);
      // the error's code decides: only REGISTRY_UNAVAILABLE (5xx) is retried
      if (!isRetriable(error)) throw error;
      lastError = error;
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private static subjectPath(subject: string): string {
    return `/subjects/${encodeURIComponent(subject)}`;
  }

  private static isNotFound(err: unknown): boolean {
    return err instanceof RegistryError && err.status === 404;
  }

  // -- the port --------------------------------------------------------------------------------------

  async register(subject: string, schema: string): Promise<RegisteredSchema> {
    const key = `${subject}\u0000${schema}`;
    const cached = this.idBySubjectSchema.get(key);
    if (cached) return cached;
    try {
      await this.request<{ id: number }>("POST", `${RemoteRegistry.subjectPath(subject)}/versions`, {
        schema,
      });
    } catch (err) {
      if (err instanceof RegistryError && err.status === 409) {
        const reasons = await this.testCompatibility(subject, schema).then(
          (r) => r.messages,
          () => [],
        );
        throw new CompatibilityError(
          subject,
          reasons.length > 0 ? reasons : [err.message],
          `the registry rejected the schema for subject "${subject}" as incompatible`,
        );
      }
      throw err;
    }
    // Confluent answers {"id"} only: the version comes from a lookup
    const registered = await this.lookup(subject, schema);
    if (!registered)
      throw new RegistryError(`registry: schema registered under "${subject}" but not found`, 404, 40403);
    return registered;
  }

  async lookup(subject: string, schema: string): Promise<RegisteredSchema | null> {
    const key = `${subject}\u0000${schema}`;
    const cached = this.idBySubjectSchema.get(key);
    if (cached) return cached;
    try {
      const found = await this.request<RegisteredSchema>("POST", RemoteRegistry.subjectPath(subject), {
        schema,
      });
      const registered = {
        subject: found.subject,
        version: found.version,
        id: found.id,
        schema: found.schema,
      };
      this.idBySubjectSchema.set(key, registered);
      this.schemaByIdCache.set(registered.id, registered.schema);
      return registered;
    } catch (err) {
      if (RemoteRegistry.isNotFound(err)) return null;
      throw err;
    }
  }

  async schemaById(id: number): Promise<string> {
    const cached = this.schemaByIdCache.get(id);
    if (cached !== undefined) return cached;
    const found = await this.request<{ schema: string; schemaType?: string }>("GET", `/schemas/ids/${id}`);
    if (found.schemaType && found.schemaType !== "AVRO") {
      throw new RegistryError(`registry: schema ${id} is ${found.schemaType}, not Avro`, 422, 42201);
    }
    this.schemaByIdCache.set(id, found.schema);
    return found.schema;
  }

  async latest(subject: string): Promise<RegisteredSchema | null> {
    try {
      const found = await this.request<RegisteredSchema>(
        "GET",
        `${RemoteRegistry.subjectPath(subject)}/versions/latest`,
      );
      this.schemaByIdCache.set(found.id, found.schema);
      return { subject: found.subject, version: found.version, id: found.id, schema: found.schema };
    } catch (err) {
      if (RemoteRegistry.isNotFound(err)) return null;
      throw err;
    }
  }

  async versions(subject: string): Promise<RegisteredSchema[]> {
    let numbers: number[];
    try {
      numbers = await this.request<number[]>("GET", `${RemoteRegistry.subjectPath(subject)}/versions`);
    } catch (err) {
      if (RemoteRegistry.isNotFound(err)) return [];
      throw err;
    }
    const out: RegisteredSchema[] = [];
    for (const n of [...numbers].sort((a, b) => a - b)) {
      const found = await this.request<RegisteredSchema>(
        "GET",
        `${RemoteRegistry.subjectPath(subject)}/versions/${n}`,
      );
      out.push({ subject: found.subject, version: found.version, id: found.id, schema: found.schema });
    }
    return out;
  }

  async compatibility(subject?: string): Promise<CompatibilityLevel> {
    const path = subject ? `/config/${encodeURIComponent(subject)}?defaultToGlobal=true` : "/config";
    let level: string | undefined;
    try {
      level = (await this.request<{ compatibilityLevel?: string }>("GET", path)).compatibilityLevel;
    } catch (err) {
      // registries without defaultToGlobal answer 404 for a subject without its own level
      if (!subject || !RemoteRegistry.isNotFound(err)) throw err;
      level = (await this.request<{ compatibilityLevel?: string }>("GET", "/config")).compatibilityLevel;
    }
    const upper = (level ?? "BACKWARD").toUpperCase();
    if (!isCompatibilityLevel(upper)) throw new Error(`registry: unknown compatibility level "${level}"`);
    return upper;
  }

  async setCompatibility(level: CompatibilityLevel, subject?: string): Promise<void> {
    const path = subject ? `/config/${encodeURIComponent(subject)}` : "/config";
    await this.request("PUT", path, { compatibility: level });
  }

  async testCompatibility(subject: string, schema: string): Promise<CompatibilityResult> {
    const base = `/compatibility${RemoteRegistry.subjectPath(subject)}/versions`;
    let answer: { is_compatible: boolean; messages?: string[] };
    try {
      // against every version the subject's level includes (Confluent 6+)
      answer = await this.request("POST", `${base}?verbose=true`, { schema });
    } catch (err) {
      // an unknown subject is compatible with anything
      if (err instanceof RegistryError && err.errorCode === 40401)
        return { isCompatible: true, messages: [] };
      if (
        !(err instanceof RegistryError) ||
        (err.status !== 404 && err.status !== 405) ||
        err.errorCode !== err.status
      )
        throw err;
      answer = await this.request("POST", `${base}/latest?verbose=true`, { schema });
    }
    return { isCompatible: answer.is_compatible, messages: answer.messages ?? [] };
  }

  async close(): Promise<void> {
    this.idBySubjectSchema.clear();
    this.schemaByIdCache.clear();
  }
}
