// The one declaration of every key of a sink file (`changecast.sink.yaml`, docs/sink.md): its zod schema, default
// and reference text, in the style of schema.ts. src/sink/sink-config.ts reads and checks a sink file with it;
// reference.ts renders it into docs/configuration.md.
import { z } from "zod";
import { integer, list, oneOf, scalar, section, settings, string, type Setting } from "./schema.js";

/** What a projection does to its table row (docs/sink.md). */
export const SINK_ACTIONS = ["upsert", "update", "delete"] as const;
export type SinkAction = (typeof SINK_ACTIONS)[number];

/** The SQL column types a sink declares or infers (docs/sink.md, "Types"). */
export const SQL_TYPES = [
  "text",
  "boolean",
  "integer",
  "bigint",
  "real",
  "double",
  "date",
  "time",
  "timestamp",
  "timestamptz",
  "uuid",
  "binary",
  "json",
] as const;

const name = (what: string) =>
  z.string().regex(/^[A-Za-z0-9._-]+$/, {
    error: (iss) => `${what} "${String(iss.input)}" may only use letters, digits, . _ -`,
  });

/** `changecast.sink.yaml`, in the order of the reference. */
export const SINK_SCHEMA = section({
  sink: scalar(name("sink"), undefined, {
    type: "string of letters, digits, `.`, `_`, `-`",
    default: "required",
    description:
      "names the sink: its consumer group (`changecast-sink-<sink>`), its rows in the target's `changecast_sink_*` tables, its dead-letter topic",
  }),
  pipeline: string("changecast.yaml", {
    type: "path",
    default: "`changecast.yaml`",
    description:
      "the pipeline file whose published events the sink reads: its Kafka brokers (or embedded output directory), registry, state store (migrations) and event declarations",
  }),
  target: section(
    {
      url: string(undefined, {
        type: "`sqlite:<file>` \\| `postgres://…`",
        default: "required",
        description:
          "the database the rows are written to (a password belongs in the environment: `${SINK_DATABASE_URL}`)",
      }),
      autoCreate: scalar(
        z.enum(["false", "true"]).transform((v) => v === "true"),
        true,
        {
          type: "`true` \\| `false`",
          default: "`true`",
          description: "create missing tables from the events' Avro schemas",
        },
        (path, text) => `${path}: "${text}" is not one of false, true`,
      ),
    },
    true,
  ),
  group: string(({ pipeline }) => `changecast-sink-${pipeline}`, {
    type: "consumer group id",
    default: "`changecast-sink-<sink>`",
    description:
      "the consumer group the sink reads as; its positions live in the target database and are mirrored to the group (so `migrate status` and `migrate switch` see it)",
  }),
  topics: list([], {
    type: "list of topic names",
    default: "the topics of the projected events",
    description:
      "the topics read; after `changecast sink switch` the new major's topic is read too (docs/sink.md)",
  }),
  batch: section({
    maxEvents: integer(500, {
      type: "positive integer",
      default: "`500`",
      description: "events applied per database transaction (positions are committed in the same one)",
    }),
  }),
  errors: section({
    tolerance: oneOf(["all", "none"] as const, "all", {
      default: "`all`",
      description:
        "`all`: dead-letter an event that cannot be decoded or applied and go on; `none`: stop before committing past it",
    }),
    deadLetterTopic: string(({ pipeline }) => `changecast-sink-${pipeline}.dlq`, {
      type: "Kafka topic name",
      default: "`changecast-sink-<sink>.dlq`",
      description: "where dead letters go (embedded mode: `<output dir>/<topic>.jsonl`)",
    }),
  }),
  projections: {
    setting: true,
    kind: "list",
    schema: z.array(z.unknown()).min(1),
    doc: {
      type: "list",
      default: "required",
      description: "per event type, what it does to a table row (below)",
    },
  },
  tables: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.unknown()),
    default: {},
    doc: {
      type: "map of table → `{columns: {column: type}}`",
      default: "none",
      description: `column types where they cannot be inferred from the Avro schema (one of ${SQL_TYPES.map((t) => `\`${t}\``).join(", ")}, or \`decimal(P,S)\`)`,
    },
  },
});

/** One entry of `projections`. */
export const PROJECTION_SCHEMA = section({
  type: string(undefined, {
    type: "Avro record full name (`ce_type`)",
    default: "required",
    description: "the event type the projection applies to, e.g. `io.example.customer.CustomerRegistered`",
  }),
  // at most 63 characters: Postgres cuts longer names (two tables could become one); the sink's own tables are
  // changecast_sink_* (any case: SQLite's names are case-insensitive)
  table: scalar(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
        error: (iss) =>
          `"${String(iss.input)}" is not a table name of letters, digits and _ (at most 63 characters)`,
      })
      .refine((t) => !t.toLowerCase().startsWith("changecast_sink_"), {
        error: (iss) => `"${String(iss.input)}": changecast_sink_* tables are the sink's own`,
      }),
    undefined,
    {
      type: "SQL identifier: letters, digits, `_`, at most 63 characters, not `changecast_sink_…`",
      default: "required",
      description: "the table written",
    },
  ),
  action: oneOf(SINK_ACTIONS, "upsert", {
    default: "`upsert`",
    description:
      "`upsert`: insert the row or set its columns; `update`: set the named columns of an existing row; `delete`: remove the row",
  }),
  when: string("true", {
    type: "CEL → bool",
    default: "`true`",
    description: "which events of the type apply (variables: `event`, `key`, `headers`, `topic`, `type`)",
  }),
  key: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.string()),
    doc: {
      type: "map of column → CEL",
      default: "required",
      description: "the row's primary key",
    },
  },
  columns: {
    setting: true,
    kind: "mapping",
    schema: z.record(z.string(), z.string()),
    default: {},
    doc: {
      type: "map of column → CEL",
      default: "none",
      description: "the columns set (`upsert`, `update`); none for `delete`",
    },
  },
});

/** The reference's rows of a sink file: its settings, then each projection's as `projections[].<key>`. */
export function sinkSettings(): [string, Setting][] {
  return [...settings(SINK_SCHEMA), ...settings(PROJECTION_SCHEMA, "projections[].")];
}
