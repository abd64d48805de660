// The embedded Confluent-compatible Schema Registry: subjects, versions, global schema ids and
// compatibility configuration kept in the state store (tables `registry_*`), with Confluent's rules for
// registration, soft / permanent deletion and configuration. Used in-process by the engine (embedded
// mode) and served over HTTP by `registry-http.ts`.
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import type { StateStore } from "../state/store.js";
import { T_CONFIG, T_SCHEMAS, T_VERSIONS } from "../state/migrations/registry.js";
import { checkCompatibility, parseAvroSchema } from "./compat.js";
import {
  isCompatibilityLevel,
  type CompatibilityLevel,
  type CompatibilityResult,
  type RegisteredSchema,
  type SchemaRegistry,
} from "./registry.js";
import { CompatibilityError, RegistryError } from "./remote-registry.js";
import { isRetriable } from "../errors.js";

export const DEFAULT_COMPATIBILITY: CompatibilityLevel = "BACKWARD";

/** Confluent's error codes (io.confluent.kafka.schemaregistry.rest.exceptions.Errors). */
export const ERROR_CODES = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_SOFT_DELETED: 40404,
  SUBJECT_NOT_SOFT_DELETED: 40405,
  SCHEMAVERSION_SOFT_DELETED: 40406,
  SCHEMAVERSION_NOT_SOFT_DELETED: 40407,
  SUBJECT_COMPATIBILITY_NOT_CONFIGURED: 40408,
  INCOMPATIBLE_SCHEMA: 409,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
  INVALID_MODE: 42204,
  STORE_ERROR: 50001,
} as const;

/** the config row of the global level */
const GLOBAL = "";
const MAX_VERSION = 2 ** 31 - 1;
const MAX_ATTEMPTS = 8;

export interface RegisterOptions {
  /** register (and compare) the normalised form of the schema */
  normalize?: boolean;
  /** Confluent's schemaType; only AVRO (or absent) is supported */
  schemaType?: string;
}

export interface SubjectVersion {
  subject: string;
  version: number;
}

interface SchemaRow {
  id: number;
  hash: string;
  schema: string;
}

interface VersionRow {
  subject: string;
  version: number;
  schema_id: number;
  deleted: number | boolean;
  schema: string;
}

// ---------------------------------------------------------------------------------------------------
// schema text: validation, canonical form (identity), normalisation

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalidSchema(message: string): RegistryError {
  return new RegistryError(`Invalid schema: ${message}`, 422, ERROR_CODES.INVALID_SCHEMA);
}

/** Parses and validates an Avro schema text; 42201 when it is not a valid Avro schema. */
export function validateAvroSchema(text: string, schemaType?: string): Json {
  if (schemaType !== undefined && schemaType !== null && schemaType.toUpperCase() !== "AVRO") {
    throw invalidSchema(`schemaType ${schemaType} is not supported: only Avro schemas are supported`);
  }
  if (typeof text !== "string" || text.trim() === "") throw invalidSchema("empty schema");
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (err) {
    throw invalidSchema(`not JSON: ${(err as Error).message}`);
  }
  try {
    parseAvroSchema(json as string | object);
  } catch (err) {
    throw invalidSchema((err as Error).message);
  }
  return json;
}

/** JSON with object keys sorted, no whitespace: two texts of the same schema give the same string. */
export function canonicalSchema(json: Json): string {
  const sort = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(sort);
    if (isObject(value)) {
      const out: { [key: string]: Json } = {};
      for (const key of Object.keys(value).sort()) out[key] = sort(value[key] as Json);
      return out;
    }
    return value;
  };
  return JSON.stringify(sort(json));
}

const PRIMITIVES = new Set(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);
const KEY_ORDER = [
  "type",
  "name",
  "namespace",
  "doc",
  "aliases",
  "fields",
  "symbols",
  "items",
  "values",
  "size",
  "default",
  "order",
  "logicalType",
  "precision",
  "scale",
];

function fullName(name: string, namespace: string | undefined): string {
  if (name.includes(".") || PRIMITIVES.has(name)) return name;
  return namespace ? `${namespace}.${name}` : name;
}

/**
 * Confluent-style normalisation of an Avro schema: names fully qualified (no `namespace` attribute),
 * `{"type": "<primitive>"}` collapsed to `"<primitive>"`, attributes in a fixed order.
 */
export function normalizeAvroSchema(json: Json): Json {
  const order = (obj: { [key: string]: Json }): { [key: string]: Json } => {
    const out: { [key: string]: Json } = {};
    for (const key of KEY_ORDER) if (key in obj) out[key] = obj[key] as Json;
    for (const key of Object.keys(obj).sort()) if (!(key in out)) out[key] = obj[key] as Json;
    return out;
  };
  const walk = (node: Json, namespace: string | undefined): Json => {
    if (typeof node === "string") return fullName(node, namespace);
    if (Array.isArray(node)) return node.map((branch) => walk(branch, namespace));
    if (!isObject(node)) return node;
    const type = node.type;
    if (typeof type === "string" && ["record", "error", "enum", "fixed"].includes(type)) {
      const name = typeof node.name === "string" ? node.name : "";
      const ns = typeof node.namespace === "string" ? node.namespace : namespace;
      const qualified = fullName(name, ns);
      const innerNs = qualified.includes(".") ? qualified.slice(0, qualified.lastIndexOf(".")) : undefined;
      const copy: { [key: string]: Json } = { ...node, name: qualified };
      delete copy.namespace;
      if (Array.isArray(node.fields)) {
        copy.fields = node.fields.map((field) =>
          isObject(field) ? order({ ...field, type: walk(field.type as Json, innerNs) }) : field,
        );
      }
      return order(copy);
    }
    if (type === "array") return order({ ...node, items: walk(node.items as Json, namespace) });
    if (type === "map") return order({ ...node, values: walk(node.values as Json, namespace) });
    const keys = Object.keys(node);
    if (typeof type === "string" && keys.length === 1) return walk(type, namespace);
    if (typeof type !== "string" && type !== undefined)
      return order({ ...node, type: walk(type, namespace) });
    return order({ ...node });
  };
  return walk(json, undefined);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

interface PreparedSchema {
  /** the text stored and returned (compact JSON; normalised with normalize=true) */
  text: string;
  canonical: string;
  hash: string;
}

function prepare(schema: string, opts: RegisterOptions = {}): PreparedSchema {
  let json = validateAvroSchema(schema, opts.schemaType);
  if (opts.normalize) json = normalizeAvroSchema(json);
  const canonical = canonicalSchema(json);
  return { text: JSON.stringify(json), canonical, hash: sha256(canonical) };
}

// ---------------------------------------------------------------------------------------------------
// errors

function subjectNotFound(subject: string): RegistryError {
  return new RegistryError(`Subject '${subject}' not found.`, 404, ERROR_CODES.SUBJECT_NOT_FOUND);
}

function versionNotFound(version: number | string): RegistryError {
  return new RegistryError(`Version ${version} not found.`, 404, ERROR_CODES.VERSION_NOT_FOUND);
}

function schemaNotFound(id?: number): RegistryError {
  return new RegistryError(
    id === undefined ? "Schema not found" : `Schema ${id} not found`,
    404,
    ERROR_CODES.SCHEMA_NOT_FOUND,
  );
}

function invalidLevel(level: string): RegistryError {
  return new RegistryError(
    `Invalid compatibility level ${level}. Valid values are none, backward, forward, full, ` +
      "backward_transitive, forward_transitive, and full_transitive",
    422,
    ERROR_CODES.INVALID_COMPATIBILITY_LEVEL,
  );
}

/** "latest", -1 or an integer in [1, 2^31-1]; anything else is 42202. */
export function parseVersion(version: string | number): number | "latest" {
  if (version === "latest" || version === -1 || version === "-1") return "latest";
  const n = typeof version === "number" ? version : /^[0-9]+$/.test(version) ? Number(version) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_VERSION) {
    throw new RegistryError(
      `The specified version '${version}' is not a valid version id. ` +
        'Allowed values are between [1, 2^31-1] and the string "latest"',
      422,
      ERROR_CODES.INVALID_VERSION,
    );
  }
  return n;
}

/**
 * A write worth retrying: a transient store failure (isRetriable: serialization failure, deadlock,
 * SQLITE_BUSY …), or a unique violation, which here means a concurrent writer registered the same thing first.
 */
function isWriteConflict(err: unknown): boolean {
  if (isRetriable(err)) return true;
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  return (
    e.code === "23505" || // postgres unique_violation
    (typeof e.code === "string" && e.code.startsWith("SQLITE_CONSTRAINT")) ||
    /UNIQUE constraint failed|database is locked/.test(e.message ?? "")
  );
}

function storeError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  return new RegistryError(
    `Error in the backend data store: ${(err as Error).message}`,
    500,
    ERROR_CODES.STORE_ERROR,
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------

export class EmbeddedRegistry implements SchemaRegistry {
  private constructor(private readonly knex: Knex) {}

  static open(store: StateStore): Promise<EmbeddedRegistry> {
    const knex = store.knex;
    // its tables are created and upgraded by the state store's migrations (src/state/migrations/registry.ts)
    return Promise.resolve(new EmbeddedRegistry(knex));
  }

  // -- transactions with retry on conflicts between concurrent writers ------------------------------

  private async write<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.knex.transaction(work);
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        if (attempt < MAX_ATTEMPTS && isWriteConflict(err)) {
          await sleep(Math.min(200, 5 * 2 ** attempt) * Math.random());
          continue;
        }
        throw storeError(err);
      }
    }
  }

  private async read<T>(work: (db: Knex) => Promise<T>): Promise<T> {
    try {
      return await work(this.knex);
    } catch (err) {
      throw storeError(err);
    }
  }

  private static versionRows(db: Knex | Knex.Transaction, subject: string): Promise<VersionRow[]> {
    return db(T_VERSIONS)
      .join(T_SCHEMAS, `${T_SCHEMAS}.id`, `${T_VERSIONS}.schema_id`)
      .where(`${T_VERSIONS}.subject`, subject)
      .orderBy(`${T_VERSIONS}.version`, "asc")
      .select(
        `${T_VERSIONS}.subject`,
        `${T_VERSIONS}.version`,
        `${T_VERSIONS}.schema_id`,
        `${T_VERSIONS}.deleted`,
        `${T_SCHEMAS}.schema`,
      ) as Promise<VersionRow[]>;
  }

  private static toRegistered(row: VersionRow): RegisteredSchema {
    return {
      subject: row.subject,
      version: Number(row.version),
      id: Number(row.schema_id),
      schema: row.schema,
    };
  }

  private static async levelOf(db: Knex | Knex.Transaction, subject: string): Promise<CompatibilityLevel> {
    const rows = (await db(T_CONFIG)
      .whereIn("subject", [subject, GLOBAL])
      .select("subject", "compatibility")) as {
      subject: string;
      compatibility: string;
    }[];
    const own = rows.find((r) => r.subject === subject && subject !== GLOBAL);
    const global = rows.find((r) => r.subject === GLOBAL);
    const level = own?.compatibility ?? global?.compatibility ?? DEFAULT_COMPATIBILITY;
    return isCompatibilityLevel(level) ? level : DEFAULT_COMPATIBILITY;
  }

  // -- the SchemaRegistry port -----------------------------------------------------------------------

  register(subject: string, schema: string): Promise<RegisteredSchema> {
    return this.registerSchema(subject, schema);
  }

  /**
   * Registers the schema under the subject: the existing version when this schema is live there,
   * otherwise a new version after the compatibility check (CompatibilityError, HTTP 409, when it fails).
   */
  async registerSchema(
    subject: string,
    schema: string,
    opts: RegisterOptions = {},
  ): Promise<RegisteredSchema> {
    if (!subject) throw new RegistryError("Subject name must not be empty", 422, 42208);
    const prepared = prepare(schema, opts);
    return this.write(async (trx) => {
      const rows = await EmbeddedRegistry.versionRows(trx, subject);
      const live = rows.filter((r) => !r.deleted);
      const existing = await trx(T_SCHEMAS).where("hash", prepared.hash).first<SchemaRow | undefined>();
      if (existing) {
        const same = live.find((r) => Number(r.schema_id) === Number(existing.id));
        if (same) return EmbeddedRegistry.toRegistered(same);
      }
      if (live.length > 0) {
        const level = await EmbeddedRegistry.levelOf(trx, subject);
        const result = checkCompatibility(
          level,
          prepared.text,
          live.map((r) => r.schema),
        );
        if (!result.isCompatible) {
          throw new CompatibilityError(
            subject,
            result.messages,
            `Schema being registered is incompatible with an earlier schema for subject "${subject}" ` +
              `(compatibility ${level})`,
          );
        }
      }
      let id: number;
      if (existing) {
        id = Number(existing.id);
      } else {
        await trx(T_SCHEMAS)
          .insert({ hash: prepared.hash, schema: prepared.text })
          .onConflict("hash")
          .ignore();
        const row = await trx(T_SCHEMAS).where("hash", prepared.hash).first<SchemaRow | undefined>();
        if (!row) throw new Error("schema row vanished after insert");
        id = Number(row.id);
      }
      const version = rows.reduce((max, r) => Math.max(max, Number(r.version)), 0) + 1;
      await trx(T_VERSIONS).insert({ subject, version, schema_id: id, deleted: false, live_schema_id: id });
      const stored = existing?.schema ?? prepared.text;
      return { subject, version, id, schema: stored };
    });
  }

  lookup(subject: string, schema: string): Promise<RegisteredSchema | null> {
    return this.lookupSchema(subject, schema).catch((err: unknown) => {
      if (err instanceof RegistryError && err.status === 404) return null;
      throw err;
    });
  }

  /** The version of this schema under the subject: 40401 unknown subject, 40403 schema not registered. */
  async lookupSchema(
    subject: string,
    schema: string,
    opts: RegisterOptions & { deleted?: boolean } = {},
  ): Promise<RegisteredSchema> {
    const prepared = prepare(schema, opts);
    return this.read(async (db) => {
      const rows = (await EmbeddedRegistry.versionRows(db, subject)).filter(
        (r) => opts.deleted || !r.deleted,
      );
      if (rows.length === 0) throw subjectNotFound(subject);
      const schemaRow = await db(T_SCHEMAS).where("hash", prepared.hash).first<SchemaRow | undefined>();
      const match = schemaRow
        ? rows
            .filter((r) => Number(r.schema_id) === Number(schemaRow.id))
            .sort((a, b) => b.version - a.version)[0]
        : undefined;
      if (!match) throw schemaNotFound();
      return EmbeddedRegistry.toRegistered(match);
    });
  }

  async schemaById(id: number): Promise<string> {
    return (await this.getSchemaById(id)).schema;
  }

  /** The schema of a global id (also when only soft-deleted versions use it); 40403 otherwise. */
  async getSchemaById(id: number): Promise<{ id: number; schema: string }> {
    return this.read(async (db) => {
      const row = await db(T_SCHEMAS)
        .where("id", id)
        .whereExists(db(T_VERSIONS).where("schema_id", id).select("version"))
        .first<SchemaRow | undefined>();
      if (!row) throw schemaNotFound(id);
      return { id: Number(row.id), schema: row.schema };
    });
  }

  /** The subject/version pairs using a global id (soft-deleted ones with deleted=true); 40403 when unused. */
  async versionsForId(id: number, opts: { deleted?: boolean } = {}): Promise<SubjectVersion[]> {
    await this.getSchemaById(id);
    return this.read(async (db) => {
      const rows = (await db(T_VERSIONS)
        .where("schema_id", id)
        .orderBy([
          { column: "subject", order: "asc" },
          { column: "version", order: "asc" },
        ])
        .select("subject", "version", "deleted")) as {
        subject: string;
        version: number;
        deleted: number | boolean;
      }[];
      return rows
        .filter((r) => opts.deleted || !r.deleted)
        .map((r) => ({ subject: r.subject, version: Number(r.version) }));
    });
  }

  async subjectsForId(id: number, opts: { deleted?: boolean } = {}): Promise<string[]> {
    const pairs = await this.versionsForId(id, opts);
    return [...new Set(pairs.map((p) => p.subject))];
  }

  async latest(subject: string): Promise<RegisteredSchema | null> {
    const all = await this.versions(subject);
    return all[all.length - 1] ?? null;
  }

  async versions(subject: string): Promise<RegisteredSchema[]> {
    return this.read(async (db) =>
      (await EmbeddedRegistry.versionRows(db, subject))
        .filter((r) => !r.deleted)
        .map(EmbeddedRegistry.toRegistered),
    );
  }

  /** Subjects with live versions (with deleted=true also those with only soft-deleted ones), sorted. */
  async listSubjects(opts: { deleted?: boolean } = {}): Promise<string[]> {
    return this.read(async (db) => {
      const q = db(T_VERSIONS).distinct("subject").orderBy("subject", "asc");
      if (!opts.deleted) q.where("deleted", false);
      return ((await q) as { subject: string }[]).map((r) => r.subject);
    });
  }

  /** Version numbers of the subject; 40401 when it has none (live ones unless deleted=true). */
  async listVersions(subject: string, opts: { deleted?: boolean } = {}): Promise<number[]> {
    return this.read(async (db) => {
      const rows = (await EmbeddedRegistry.versionRows(db, subject)).filter(
        (r) => opts.deleted || !r.deleted,
      );
      if (rows.length === 0) throw subjectNotFound(subject);
      return rows.map((r) => Number(r.version));
    });
  }

  /** One version ("latest" or a number): 42202 invalid version, 40401 unknown subject, 40402 unknown version. */
  async getVersion(
    subject: string,
    version: string | number,
    opts: { deleted?: boolean } = {},
  ): Promise<RegisteredSchema> {
    const v = parseVersion(version);
    return this.read(async (db) => {
      const rows = (await EmbeddedRegistry.versionRows(db, subject)).filter(
        (r) => opts.deleted || !r.deleted,
      );
      if (rows.length === 0) throw subjectNotFound(subject);
      const row = v === "latest" ? rows[rows.length - 1] : rows.find((r) => Number(r.version) === v);
      if (!row) throw versionNotFound(version);
      return EmbeddedRegistry.toRegistered(row);
    });
  }

  /**
   * Deletes one version: soft by default (40406 when already soft-deleted); `permanent` only after a
   * soft delete (40407). Returns the version number.
   */
  async deleteVersion(subject: string, version: string | number, permanent = false): Promise<number> {
    const v = parseVersion(version);
    return this.write(async (trx) => {
      const rows = await EmbeddedRegistry.versionRows(trx, subject);
      if (rows.length === 0 || (!permanent && rows.every((r) => r.deleted))) throw subjectNotFound(subject);
      const candidates = permanent ? rows : rows.filter((r) => !r.deleted);
      const row =
        v === "latest" ? candidates[candidates.length - 1] : rows.find((r) => Number(r.version) === v);
      if (!row) throw versionNotFound(version);
      const n = Number(row.version);
      if (permanent) {
        if (!row.deleted) {
          throw new RegistryError(
            `Subject '${subject}' Version ${n} was not deleted first before being permanently deleted`,
            404,
            ERROR_CODES.SCHEMAVERSION_NOT_SOFT_DELETED,
          );
        }
        await trx(T_VERSIONS).where({ subject, version: n }).delete();
      } else {
        if (row.deleted) {
          throw new RegistryError(
            `Subject '${subject}' Version ${n} was soft deleted.Set permanent=true to delete permanently`,
            404,
            ERROR_CODES.SCHEMAVERSION_SOFT_DELETED,
          );
        }
        await trx(T_VERSIONS).where({ subject, version: n }).update({ deleted: true, live_schema_id: null });
      }
      return n;
    });
  }

  /**
   * Deletes a subject: soft by default (all live versions; 40404 when already soft-deleted, and its
   * subject-level config goes); `permanent` only after a soft delete (40405). Returns the versions deleted.
   */
  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.write(async (trx) => {
      const rows = await EmbeddedRegistry.versionRows(trx, subject);
      if (rows.length === 0) throw subjectNotFound(subject);
      if (permanent) {
        if (rows.some((r) => !r.deleted)) {
          throw new RegistryError(
            `Subject '${subject}' was not deleted first before being permanently deleted`,
            404,
            ERROR_CODES.SUBJECT_NOT_SOFT_DELETED,
          );
        }
        await trx(T_VERSIONS).where({ subject }).delete();
        await trx(T_CONFIG).where({ subject }).delete();
        return rows.map((r) => Number(r.version));
      }
      const live = rows.filter((r) => !r.deleted);
      if (live.length === 0) {
        throw new RegistryError(
          `Subject '${subject}' was soft deleted.Set permanent=true to delete permanently`,
          404,
          ERROR_CODES.SUBJECT_SOFT_DELETED,
        );
      }
      await trx(T_VERSIONS).where({ subject }).update({ deleted: true, live_schema_id: null });
      await trx(T_CONFIG).where({ subject }).delete();
      return live.map((r) => Number(r.version));
    });
  }

  // -- configuration ---------------------------------------------------------------------------------

  async compatibility(subject?: string): Promise<CompatibilityLevel> {
    return this.read((db) => EmbeddedRegistry.levelOf(db, subject ?? GLOBAL));
  }

  /**
   * The configured level: global without a subject; for a subject its own level, or with
   * `defaultToGlobal` the global one, 40408 when the subject has none.
   */
  async getConfig(subject?: string, defaultToGlobal = false): Promise<CompatibilityLevel> {
    if (!subject) return this.compatibility();
    const own = await this.read((db) =>
      db(T_CONFIG).where("subject", subject).first<{ compatibility: string } | undefined>(),
    );
    if (own && isCompatibilityLevel(own.compatibility)) return own.compatibility;
    if (defaultToGlobal) return this.compatibility();
    throw new RegistryError(
      `Subject '${subject}' does not have subject-level compatibility configured`,
      404,
      ERROR_CODES.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
    );
  }

  async setCompatibility(level: CompatibilityLevel | string, subject?: string): Promise<void> {
    const upper = typeof level === "string" ? level.toUpperCase() : level;
    if (!isCompatibilityLevel(upper)) throw invalidLevel(String(level));
    await this.write(async (trx) => {
      await trx(T_CONFIG)
        .insert({ subject: subject ?? GLOBAL, compatibility: upper })
        .onConflict("subject")
        .merge(["compatibility"]);
    });
  }

  /**
   * Deletes the global level (back to BACKWARD) or a subject's level (back to the global one);
   * returns the level that was in force. 40401 for a subject without versions nor a level.
   */
  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    if (!subject) {
      const previous = await this.compatibility();
      await this.write(async (trx) => {
        await trx(T_CONFIG).where("subject", GLOBAL).delete();
      });
      return previous;
    }
    return this.write(async (trx) => {
      const own = await trx(T_CONFIG)
        .where("subject", subject)
        .first<{ compatibility: string } | undefined>();
      if (!own || !isCompatibilityLevel(own.compatibility)) {
        const known = await trx(T_VERSIONS).where("subject", subject).first();
        if (!known) throw subjectNotFound(subject);
        throw new RegistryError(
          `Subject '${subject}' does not have subject-level compatibility configured`,
          404,
          ERROR_CODES.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
        );
      }
      await trx(T_CONFIG).where("subject", subject).delete();
      return own.compatibility;
    });
  }

  /** The registry mode: always READWRITE (no import / read-only modes). */
  mode(): "READWRITE" {
    return "READWRITE";
  }

  // -- compatibility tests ---------------------------------------------------------------------------

  testCompatibility(subject: string, schema: string): Promise<CompatibilityResult> {
    return this.testCompatibilityAgainst(subject, schema);
  }

  /**
   * Tests a schema without registering it: against one version (a number), or with "latest" / no
   * version against the subject's live versions under its level (the check registration would run).
   * A subject without versions is compatible with anything.
   */
  async testCompatibilityAgainst(
    subject: string,
    schema: string,
    version?: string | number,
    opts: RegisterOptions = {},
  ): Promise<CompatibilityResult> {
    const v = version === undefined ? "latest" : parseVersion(version);
    const prepared = prepare(schema, opts);
    const { level, previous } = await this.read(async (db) => {
      const live = (await EmbeddedRegistry.versionRows(db, subject)).filter((r) => !r.deleted);
      const lvl = await EmbeddedRegistry.levelOf(db, subject);
      if (v === "latest") return { level: lvl, previous: live.map((r) => r.schema) };
      if (live.length === 0) throw subjectNotFound(subject);
      const row = live.find((r) => Number(r.version) === v);
      if (!row) throw versionNotFound(version ?? "latest");
      return { level: lvl, previous: [row.schema] };
    });
    if (previous.length === 0) return { isCompatible: true, messages: [] };
    return checkCompatibility(level, prepared.text, previous);
  }

  /** The store belongs to the caller: closing the registry leaves it open. */
  async close(): Promise<void> {}
}
