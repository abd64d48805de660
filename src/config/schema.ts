// The one declaration of every `changecast.yaml` setting: its zod schema (type, validation, default) and its
// documentation. readPipelineConfig (pipeline-config.ts) walks this tree to read, validate and default the YAML;
// scripts/gen-config-docs.ts renders docs/configuration.md from it. Add or change a setting here and nowhere else.
import { z } from "zod";

/** Compatibility levels of a Schema Registry subject (`schemas.compatibility`; the registry port re-exports them). */
export const COMPATIBILITY_LEVELS = [
  "NONE",
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/** Codecs of `kafka.compression` (what changecast publishes; every one of them is read on consume). */
export const KAFKA_COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** Kafka client libraries of the Kafka transport (`kafka.client`, docs/kafka.md). */
export const KAFKA_CLIENTS = ["kafkajs", "librdkafka"] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

export const SUBJECT_NAME_STRATEGIES = [
  "TopicNameStrategy",
  "RecordNameStrategy",
  "TopicRecordNameStrategy",
] as const;
export type SubjectNameStrategy = (typeof SUBJECT_NAME_STRATEGIES)[number];

/** What the configuration reference says about a setting (docs/configuration.md). */
export interface SettingDoc {
  /** the type as the reference shows it (markdown) */
  type: string;
  /** the default as the reference shows it (markdown); "required" for a required setting */
  default: string;
  description: string;
}

/**
 * How a setting is read from YAML: `scalar` (an env-expanded string, parsed by the setting's zod schema) or
 * `list` (a YAML list of env-expanded strings, or one scalar); `mapping` and `sequence` (YAML structure, e.g. a
 * transform file's `fields` and `events`: the reader checks the shape and the schema, its owner reads the items).
 */
export type SettingKind = "scalar" | "list" | "mapping" | "sequence";

/** The default of a setting; a function derives it from the pipeline name. */
export type SettingDefault<T> = T | ((ctx: { pipeline: string }) => T);

export interface Setting<T = unknown> {
  readonly setting: true;
  kind: SettingKind;
  /** validates and converts the env-expanded YAML text */
  schema: z.ZodType<T>;
  /** absent: required */
  default?: SettingDefault<T>;
  /** how a value the schema refuses is reported; absent (or a refinement's "custom" issue): zod's message */
  invalid?: (path: string, text: string) => string;
  doc: SettingDoc;
}

export interface Section {
  readonly setting: false;
  /** a missing required section is reported as "<name> is required" */
  required?: boolean;
  fields: Record<string, Section | Setting<unknown>>;
}

// -- building blocks (exported for the other files' schemas, e.g. sink-schema.ts) ------------------------------

export function scalar<T>(
  schema: z.ZodType<T>,
  def: SettingDefault<T> | undefined,
  doc: SettingDoc,
  invalid?: Setting["invalid"],
): Setting<T> {
  return { setting: true, kind: "scalar", schema, default: def, invalid, doc };
}

export const string = (def: SettingDefault<string> | undefined, doc: SettingDoc) =>
  scalar(z.string(), def, doc);

export function oneOf<const V extends readonly [string, ...string[]]>(
  values: V,
  def: V[number],
  doc: Omit<SettingDoc, "type">,
) {
  return scalar(
    z.enum(values),
    def,
    { type: values.map((v) => `\`${v}\``).join(" \\| "), ...doc },
    (path, text) => `${path}: "${text}" is not one of ${values.join(", ")}`,
  );
}

export const positiveInt = z
  .string()
  .transform(Number)
  .pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER));

export function integer(def: number, doc: SettingDoc, check: z.ZodType<number> = positiveInt) {
  return scalar(check, def, doc, (path, text) => `${path}: "${text}" is not a positive integer`);
}

/** A duration such as `500ms`, `60s`, `15m`, `1h`, `2d`, in milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as "ms" | "s" | "m" | "h" | "d"
  ];
  const ms = Number(m[1]) * unit;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

// a regex (not a refinement) so that a refused value gets the setting's own message (invalid below)
const DURATION = z
  .string()
  .regex(/^\s*\d+\s*(ms|s|m|h|d)\s*$/)
  .transform((text) => parseDuration(text) ?? 0)
  .pipe(z.number().int().positive());

function duration(def: string, doc: SettingDoc): Setting<number> {
  return scalar(
    DURATION,
    parseDuration(def) ?? 0,
    doc,
    (path, text) => `${path}: "${text}" is not a duration (e.g. 500ms, 60s, 15m, 1h)`,
  );
}

export function list(def: string[] | undefined, doc: SettingDoc): Setting<string[]> {
  return { setting: true, kind: "list", schema: z.array(z.string()), default: def, doc };
}

/** A section whose fields keep their types (for ValuesOf). */
export interface SectionOf<F extends Section["fields"]> extends Section {
  fields: F;
}

export const section = <F extends Section["fields"]>(fields: F, required = false): SectionOf<F> => ({
  setting: false,
  required,
  fields,
});

/** The values a section's settings read to: `ValuesOf<typeof PIPELINE_SCHEMA>` is what changecast.yaml sets. */
export type ValuesOf<S> =
  S extends SectionOf<infer F>
    ? { [K in keyof F]: F[K] extends Setting<infer T> ? T : ValuesOf<F[K]> }
    : never;

/** A dead letter (error headers, a cut copy of the record) must fit limits.maxEventBytes too. */
export const MIN_EVENT_BYTES = 1024;

// -- the schema --------------------------------------------------------------------------------------------

/** `changecast.yaml`, in the order of the reference (and of the checks). */
export const PIPELINE_SCHEMA = section({
  pipeline: scalar(
    z.string().regex(/^[A-Za-z0-9._-]+$/, {
      error: (iss) => `pipeline "${String(iss.input)}" may only use letters, digits, . _ -`,
    }),
    undefined,
    {
      type: "string of letters, digits, `.`, `_`, `-`",
      default: "required",
      description:
        "names the consumer group (`changecast.<pipeline>`), the default dead-letter topic and the state namespace",
    },
  ),
  source: section(
    {
      connector: oneOf(["postgres", "oracle"] as const, "postgres", {
        default: "`postgres`",
        description: "the Debezium connector that wrote the topics (position and type rules)",
      }),
      topicPrefix: string(undefined, {
        type: "string",
        default: "required",
        description: "Debezium `topic.prefix`: table `S.T` is read from `<topicPrefix>.S.T`",
      }),
      format: oneOf(["json", "avro"] as const, "json", {
        default: "`json`",
        description:
          "the Kafka Connect converter: JsonConverter with or without schemas, or AvroConverter through the registry",
      }),
      files: list([], {
        type: "list of paths or globs",
        default: "`[]`",
        description:
          "embedded mode only: `kcat -C -J` dumps (or capture files, docs/records.md) read in the order given; globs expand sorted",
      }),
      transactionTopic: string("", {
        type: "Kafka topic name",
        default: "empty",
        description:
          "Debezium's transaction metadata topic (`provide.transaction.metadata=true`), read for transaction aggregates (docs/transforms.md)",
      }),
      transactionTimeout: duration("60s", {
        type: "duration (`500ms`, `60s`, `15m`, `1h`)",
        default: "`60s`",
        description:
          "a transaction aggregate still incomplete this long (source time) is published partial (docs/state.md)",
      }),
    },
    true,
  ),
  kafka: section({
    brokers: scalar(
      z.string().transform((text) =>
        text
          .split(",")
          .map((b) => b.trim())
          .filter(Boolean),
      ),
      [],
      {
        type: "comma-separated `host:port`",
        default: "empty",
        description: "empty: embedded mode (files in, `.changecast/out/` out); set: Kafka",
      },
    ),
    clientId: string(({ pipeline }) => `changecast-${pipeline}`, {
      type: "string",
      default: "`changecast-<pipeline>`",
      description: "Kafka client id",
    }),
    compression: oneOf(KAFKA_COMPRESSIONS, "none", {
      default: "`none` (docs/kafka.md)",
      description:
        "compression of the record batches changecast publishes; batches it consumes may use any of them",
    }),
    client: oneOf(KAFKA_CLIENTS, "kafkajs", {
      default: "`kafkajs` (docs/kafka.md, Kafka clients)",
      description:
        "the Kafka client library: `kafkajs` (pure JavaScript) or `librdkafka` (the optional native dependency @confluentinc/kafka-javascript; KIP-447 transactions)",
    }),
    fetchMaxBytes: integer(8 * 1024 * 1024, {
      type: "positive integer (bytes)",
      default: "`8388608` (8 MiB)",
      description:
        "how far the consumer reads ahead of the worker, in record bytes as stored (compressed): the most one fetch request returns (at most 2 MiB of it per partition); kafkajs keeps one fetch per broker in memory, librdkafka a prefetch queue of twice this (docs/kafka.md, Throughput). A single larger record batch is still fetched",
    }),
  }),
  registry: section({
    url: string("", {
      type: "URL",
      default: "empty",
      description:
        "empty: the embedded registry (kept in the state store); set: a Confluent-compatible Schema Registry",
    }),
    compatibility: oneOf(COMPATIBILITY_LEVELS, "BACKWARD", {
      default: "`BACKWARD`",
      description: "level set on the subjects changecast creates",
    }),
    subjectNameStrategy: oneOf(SUBJECT_NAME_STRATEGIES, "TopicRecordNameStrategy", {
      default: "`TopicRecordNameStrategy`",
      description:
        "subject naming (several event types share one topic, so the default includes the record name)",
    }),
  }),
  state: string("sqlite:.changecast/state.sqlite", {
    type: "`sqlite:<file>` \\| `postgres://…`",
    default: "`sqlite:.changecast/state.sqlite`",
    description:
      "the state store (offsets, embedded registry, migrations); a URL that does not parse is an error",
  }),
  delivery: oneOf(["exactly-once", "at-least-once"] as const, "exactly-once", {
    default: "`exactly-once`",
    description: "Kafka delivery mode (docs/kafka.md); embedded mode is always exactly once",
  }),
  errors: section({
    tolerance: oneOf(["all", "none"] as const, "all", {
      default: "`all`",
      description: "`all`: dead-letter bad records and go on; `none`: stop before committing past one",
    }),
    deadLetterTopic: string(({ pipeline }) => `changecast.${pipeline}.dlq`, {
      type: "Kafka topic name",
      default: "`changecast.<pipeline>.dlq`",
      description: "where dead letters go (docs/records.md)",
    }),
  }),
  limits: section({
    maxRecordBytes: integer(8 * 1024 * 1024, {
      type: "positive integer",
      default: "`8388608` (8 MiB)",
      description:
        "a source record (or input line) larger than this is a dead letter, rejected while reading",
    }),
    maxEventBytes: integer(
      1_048_588,
      {
        type: `integer ≥ ${MIN_EVENT_BYTES}`,
        default: "`1048588` (Kafka's default `max.message.bytes`)",
        description:
          "a published event (key, value and headers) larger than this is a dead letter; a dead letter itself is cut to fit (`changecast_dlq_truncated`, docs/records.md)",
      },
      positiveInt.refine((n) => n >= MIN_EVENT_BYTES, {
        error: (iss) =>
          `limits.maxEventBytes: "${String(iss.input)}" is too small: at least ${MIN_EVENT_BYTES} (room for a dead letter's error headers)`,
      }),
    ),
  }),
  ops: section({
    port: scalar(
      z
        .string()
        .transform((text) => (text.trim() === "" ? null : Number(text)))
        .pipe(z.number().int().min(0).max(65535).nullable()),
      null,
      {
        type: "port number",
        default: "empty (off)",
        description:
          "`run` serves `/metrics` (Prometheus), `/healthz` and `/readyz` on this port (docs/operations.md); `CHANGECAST_OPS_PORT` overrides it",
      },
      (path, text) => `${path}: "${text}" is not a port number (0 to 65535)`,
    ),
    host: string("0.0.0.0", {
      type: "address",
      default: "`0.0.0.0`",
      description:
        "address the operations endpoint binds (`127.0.0.1`: this machine only); `CHANGECAST_OPS_HOST` overrides it",
    }),
    stuckAfterMs: integer(300_000, {
      type: "positive integer (ms)",
      default: "`300000` (5 min)",
      description:
        "`/healthz` fails when records are pending and no batch was delivered for this long (the worker is stuck)",
    }),
  }),
  log: section({
    format: oneOf(["auto", "json", "pretty"] as const, "auto", {
      default: "`auto`",
      description:
        "log lines on stderr: `json` (one JSON object per line, pino), `pretty` (human-readable), `auto`: `pretty` on a terminal, else `json`; `LOG_FORMAT` overrides it",
    }),
    level: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info", {
      default: "`info`",
      description: "least severe level logged; `LOG_LEVEL` overrides it",
    }),
  }),
  output: section({
    dir: string(".changecast/out", {
      type: "path",
      default: "`.changecast/out`",
      description: "embedded mode: where published records are written (`<topic>.jsonl`)",
    }),
  }),
  transforms: list(undefined, {
    type: "list of paths or globs",
    default: "required",
    description: "the transform files",
  }),
  paths: section({
    allowAbsolute: scalar(
      z.enum(["false", "true"]).transform((v) => v === "true"),
      false,
      {
        type: "`true` \\| `false`",
        default: "`false`",
        description:
          "`false`: capture files, transform files and schemas must lie inside the directory of the pipeline file (an absolute path elsewhere or a `../` that leaves it is a problem); `true`: anywhere",
      },
      (path, text) => `${path}: "${text}" is not one of false, true`,
    ),
  }),
});

/** What changecast.yaml's settings read to, before paths are resolved (PipelineConfig is built from it). */
export type PipelineSettings = ValuesOf<typeof PIPELINE_SCHEMA>;

/** Every setting with its dotted path, in declaration order (the reference's rows). */
export function settings(node: Section = PIPELINE_SCHEMA, prefix = ""): [string, Setting][] {
  return Object.entries(node.fields).flatMap(([key, child]): [string, Setting][] =>
    child.setting ? [[`${prefix}${key}`, child]] : settings(child, `${prefix}${key}.`),
  );
}

// -- transform files ---------------------------------------------------------------------------------------

/** `events[].major` and the labels of `events[].majors`: an integer major version, at least 1. */
export const MAJOR_VERSION = z
  .string()
  .transform(Number)
  .refine((n) => Number.isInteger(n) && n >= 1);

/** One entry of a transform file's `events` (read and checked by map/transform-file.ts). */
export const EVENT_SCHEMA = section({
  name: string(undefined, {
    type: "Avro record name or full name",
    default: "required",
    description: "must match the schema's record name",
  }),
  schema: string(undefined, {
    type: "path to `.avsc`",
    default: "required",
    description: "the event's Avro schema",
  }),
  topic: string(undefined, {
    type: "Kafka topic name",
    default: "required",
    description: "where the event is published",
  }),
  when: string("true", {
    type: "CEL → bool",
    default: "`true`",
    description: "which changes produce the event",
  }),
  key: string(undefined, {
    type: "CEL",
    default: "required",
    description: "the Kafka record key (as text)",
  }),
  fields: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.string()),
    doc: {
      type: "map of schema field → CEL",
      default: "required",
      description: "the event's values; `null` takes the field's default",
    },
  },
  major: scalar(
    MAJOR_VERSION,
    1,
    {
      type: "positive integer",
      default: "`1`",
      description: "the major version this declaration publishes (docs/migration.md)",
    },
    () => "event.major must be a positive integer",
  ),
  majors: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.unknown()),
    default: {},
    doc: {
      type: "map of major → `{schema, topic?, when?, key?, fields}`",
      default: "none",
      description:
        "further majors published side by side during a migration; `topic` defaults to `<topic>.v<N>`",
    },
  },
});

/** An entry of `events[].majors`: the event's settings a major may set (name and major are the event's). */
export const MAJOR_SCHEMA = section({
  schema: EVENT_SCHEMA.fields.schema,
  topic: inherited(EVENT_SCHEMA.fields.topic, "`<topic>.v<N>`"),
  when: inherited(EVENT_SCHEMA.fields.when, "the event's"),
  key: inherited(EVENT_SCHEMA.fields.key, "the event's"),
  fields: EVENT_SCHEMA.fields.fields,
});

/** A setting of a major that, when absent (null), is the event's own or derived from it. */
function inherited(setting: Setting<string>, def: string): Setting<string | null> {
  return { ...setting, default: null, doc: { ...setting.doc, default: def } };
}

/** A transform file (docs/transforms.md): one per source table. */
export const TRANSFORM_SCHEMA = section({
  table: scalar(
    z.string().regex(/^[^.\s]+\.[^.\s]+$/, {
      error: (iss) => `table "${String(iss.input)}" must be "<schema>.<table>" as Debezium names it`,
    }),
    undefined,
    {
      type: "`<schema>.<table>`",
      default: "required",
      description: "the source table as Debezium names it (Oracle: upper case)",
    },
  ),
  state: oneOf(["none", "rows"] as const, "none", {
    default: "`none`",
    description:
      "`rows`: keep the latest row image of every primary key (table state: TOAST/LOB fill, before-images, `lookup()`; docs/state.md)",
  }),
  primaryKey: list([], {
    type: "list of column names",
    default: "none (the record key's columns)",
    description:
      "with `state: rows`: the primary-key columns in key order (those of the record key), so that `changecast check` can count the values of `lookup()` keys",
  }),
  index: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.unknown()),
    default: {},
    doc: {
      type: "mapping of name → list of CEL over `after`",
      default: "none",
      description:
        'secondary indexes of the table state for `lookup(table, key, "name")` (needs `state: rows`)',
    },
  },
  events: {
    setting: true,
    kind: "sequence",
    // empty only with state: rows (a table kept as state for lookups); map/state-declaration.ts says so
    schema: z.array(z.unknown()),
    default: [],
    doc: {
      type: "list",
      default: "required (may be empty with `state: rows`)",
      description: "the events derived from the table's changes",
    },
  },
  requires: {
    setting: true,
    kind: "sequence",
    schema: z.array(z.unknown()),
    default: [],
    doc: {
      type: "list of `{table, key, when?, timeout?, onTimeout?}`",
      default: "none",
      description:
        "parent rows a change waits for: it is parked until the parent row is in the table state (docs/transforms.md)",
    },
  },
});

/** A `<schema>.<table>` setting, checked like a transform file's `table`. */
function tableName(description: string): Setting<string> {
  const table = TRANSFORM_SCHEMA.fields.table as Setting<string>;
  return { ...table, doc: { ...table.doc, description } };
}

/** One entry of a transform file's `requires` (read and checked by map/requires.ts). */
export const REQUIRE_SCHEMA = section({
  table: tableName("the parent table (it must declare `state: rows`)"),
  key: string(undefined, {
    type: "CEL",
    default: "required",
    description: "the parent's primary key from this change (a list for a composite key)",
  }),
  when: string('op != "d"', {
    type: "CEL → bool",
    default: '`op != "d"`',
    description: "which changes wait for the parent",
  }),
  timeout: duration("15m", {
    type: "duration",
    default: "`15m`",
    description: "how long (source time) a change waits before `onTimeout` applies",
  }),
  onTimeout: oneOf(["dead-letter", "publish"] as const, "dead-letter", {
    default: "`dead-letter`",
    description: "`dead-letter` (the reason names the parent table and key) or `publish` without the parent",
  }),
});

/** An aggregate file (docs/transforms.md): `aggregate:` instead of `table:`. */
export const AGGREGATE_SCHEMA = section({
  aggregate: tableName("the root table: one evaluation per root row changed in a transaction"),
  members: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.unknown()),
    default: {},
    doc: {
      type: "map of variable → `{table, match}`",
      default: "none",
      description: "lists of member changes of the same transaction matched to the root row",
    },
  },
  events: TRANSFORM_SCHEMA.fields.events,
});

/** One entry of an aggregate file's `members`. */
export const MEMBER_SCHEMA = section({
  table: tableName("the member table"),
  match: string(undefined, {
    type: "CEL over `member`, `root` → bool",
    default: "required",
    description: "whether a member change belongs to the root row",
  }),
});

/** The reference's rows of a transform file: its settings, then each event's as `events[].<key>`. */
export function transformSettings(): [string, Setting][] {
  return [
    ...settings(TRANSFORM_SCHEMA),
    ...settings(EVENT_SCHEMA, "events[]."),
    ...settings(REQUIRE_SCHEMA, "requires[]."),
    ...settings({ setting: false, fields: { aggregate: AGGREGATE_SCHEMA.fields.aggregate } }),
    ...settings({ setting: false, fields: { members: AGGREGATE_SCHEMA.fields.members } }),
    ...settings(MEMBER_SCHEMA, "members.<name>."),
  ];
}
