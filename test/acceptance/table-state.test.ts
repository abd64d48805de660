// Acceptance of table state (`state: rows`, TOAST/LOB fill, before-images, lookup(), primary-key changes) as a
// user meets it: a small project in a temp directory, CRM-style Debezium captures written by hand (Postgres and
// Oracle flavour, JsonConverter with and without schemas, kcat -J lines and bare values), run through the compiled
// CLI (`changecast replay`, `check`, embedded `run`), events compared with what the documentation promises.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compiledCli } from "../support/compiled-cli.js";

const NO_INFRA = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

// the compiled CLI, as `npx changecast` runs it (test/support/compiled-cli.ts)
let bin = "";
beforeAll(() => {
  bin = compiledCli();
}, 300_000);

function cli(cwd: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    env: NO_INFRA,
    input,
    maxBuffer: 512 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Out {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  value?: Record<string, unknown>;
  payload?: string | null;
}

/** `changecast replay` of the lines: the printed records, the exit code and stderr. */
function replay(dir: string, lines: string[], extra: string[] = []) {
  const input = join(dir, `input-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(input, lines.join("\n") + "\n");
  const r = cli(dir, ["replay", "--config", join(dir, "changecast.yaml"), "--input", input, ...extra]);
  if (r.code !== 0) throw new Error(`replay exit ${r.code}: ${r.stderr}`);
  const out = r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Out);
  return {
    out,
    stderr: r.stderr,
    events: out.filter((o) => o.topic !== DLQ),
    dead: out.filter((o) => o.topic === DLQ),
  };
}

const DLQ = "crm.dlq";

function project(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-accept-"));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const avsc = (name: string, fields: object[]) => ({ type: "record", name, namespace: "io.crm", fields });
const opt = (name: string, type: unknown = "string") => ({ name, type: ["null", type], default: null });

// ---------------------------------------------------------------------------------------------------------------
// Debezium records, as the connectors and Kafka's JsonConverter write them

type ColType = "int32" | "int64" | "string" | "bytes" | "json" | "text[]" | "int[]" | "hexbytes";
type Cols = Record<string, ColType>;

function connectField(name: string, type: ColType, optional: boolean): object {
  switch (type) {
    case "json":
      return { type: "string", optional, name: "io.debezium.data.Json", version: 1, field: name };
    case "text[]":
      return { type: "array", items: { type: "string", optional: true }, optional, field: name };
    case "int[]":
      return { type: "array", items: { type: "int32", optional: true }, optional, field: name };
    case "hexbytes": // binary.handling.mode=hex: the column is a plain string
      return { type: "string", optional, field: name };
    default:
      return { type, optional, field: name };
  }
}

const PG_SOURCE_SCHEMA = {
  type: "struct",
  fields: [
    { type: "string", optional: false, field: "version" },
    { type: "string", optional: false, field: "connector" },
    { type: "string", optional: false, field: "name" },
    { type: "int64", optional: false, field: "ts_ms" },
    {
      type: "string",
      optional: true,
      name: "io.debezium.data.Enum",
      version: 1,
      default: "false",
      field: "snapshot",
    },
    { type: "string", optional: false, field: "db" },
    { type: "string", optional: true, field: "sequence" },
    { type: "string", optional: false, field: "schema" },
    { type: "string", optional: false, field: "table" },
    { type: "int64", optional: true, field: "txId" },
    { type: "int64", optional: true, field: "lsn" },
  ],
  optional: false,
  name: "io.debezium.connector.postgresql.Source",
  field: "source",
};
const ORA_SOURCE_SCHEMA = {
  type: "struct",
  fields: [
    { type: "string", optional: false, field: "version" },
    { type: "string", optional: false, field: "connector" },
    { type: "string", optional: false, field: "name" },
    { type: "int64", optional: false, field: "ts_ms" },
    {
      type: "string",
      optional: true,
      name: "io.debezium.data.Enum",
      version: 1,
      default: "false",
      field: "snapshot",
    },
    { type: "string", optional: false, field: "db" },
    { type: "string", optional: false, field: "schema" },
    { type: "string", optional: false, field: "table" },
    { type: "string", optional: true, field: "txId" },
    { type: "string", optional: true, field: "scn" },
    { type: "string", optional: true, field: "commit_scn" },
    { type: "int64", optional: true, field: "txSeq" },
  ],
  optional: false,
  name: "io.debezium.connector.oracle.Source",
  field: "source",
};

interface Flavour {
  connector: "postgres" | "oracle";
  prefix: string;
  schemas: boolean;
}
const PG: Flavour = { connector: "postgres", prefix: "dbserver1", schemas: true };
const PG_SCHEMALESS: Flavour = { connector: "postgres", prefix: "dbserver1", schemas: false };
const ORA: Flavour = { connector: "oracle", prefix: "server1", schemas: true };

/** The kcat -J line of one change of table `schema.table` (`pos` orders it: LSN / SCN and source time). */
function change(
  f: Flavour,
  table: string,
  cols: Cols,
  keyCols: string[],
  op: "r" | "c" | "u" | "d" | "t",
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  pos: number,
  headers: string[] = [],
): string {
  const [schema, name] = table.split(".");
  const topic = `${f.prefix}.${table}`;
  const source =
    f.connector === "postgres"
      ? {
          version: "3.6.1.Final",
          connector: "postgresql",
          name: f.prefix,
          ts_ms: 1710497000000 + pos * 1000,
          snapshot: op === "r" ? "true" : "false",
          db: "crm",
          sequence: JSON.stringify([String(1000 + pos * 10), String(1000 + pos * 10)]),
          schema,
          table: name,
          txId: 700 + pos,
          lsn: 1000 + pos * 10,
        }
      : {
          version: "3.6.1.Final",
          connector: "oracle",
          name: f.prefix,
          ts_ms: 1710497000000 + pos * 1000,
          snapshot: op === "r" ? "true" : "false",
          db: "ORCLPDB1",
          schema,
          table: name,
          txId: op === "r" ? null : `0a001b00${String(pos).padStart(8, "0")}`,
          scn: String(2000000 + pos),
          commit_scn: op === "r" ? null : String(2000000 + pos),
          txSeq: op === "r" ? null : 1,
        };
  const payload = { before, after, source, transaction: null, op, ts_ms: 1710497000500 + pos * 1000 };
  const keyRow = op === "t" ? null : Object.fromEntries(keyCols.map((k) => [k, (after ?? before)![k]]));
  let key: string | null = null;
  let value: string;
  if (f.schemas) {
    const rowSchema = (field: string) => ({
      type: "struct",
      fields: Object.entries(cols).map(([n, t]) => connectField(n, t, !keyCols.includes(n))),
      optional: true,
      name: `${topic}.Value`,
      field,
    });
    value = JSON.stringify({
      schema: {
        type: "struct",
        fields: [
          rowSchema("before"),
          rowSchema("after"),
          f.connector === "postgres" ? PG_SOURCE_SCHEMA : ORA_SOURCE_SCHEMA,
          {
            type: "struct",
            fields: [
              { type: "string", optional: false, field: "id" },
              { type: "int64", optional: false, field: "total_order" },
              { type: "int64", optional: false, field: "data_collection_order" },
            ],
            optional: true,
            name: "event.block",
            version: 1,
            field: "transaction",
          },
          { type: "string", optional: false, field: "op" },
          { type: "int64", optional: true, field: "ts_ms" },
        ],
        optional: false,
        name: `${topic}.Envelope`,
        version: 2,
      },
      payload,
    });
    if (keyRow)
      key = JSON.stringify({
        schema: {
          type: "struct",
          fields: keyCols.map((k) => connectField(k, cols[k]!, false)),
          optional: false,
          name: `${topic}.Key`,
        },
        payload: keyRow,
      });
  } else {
    value = JSON.stringify(payload);
    if (keyRow) key = JSON.stringify(keyRow);
  }
  return JSON.stringify({
    topic,
    partition: 0,
    offset: pos,
    tstype: "create",
    ts: 1710497000900 + pos * 1000,
    broker: 1,
    headers,
    key,
    payload: value,
  });
}

const PLACEHOLDER = "__debezium_unavailable_value";
const PLACEHOLDER_B64 = Buffer.from(PLACEHOLDER).toString("base64");
const PLACEHOLDER_HEX = Buffer.from(PLACEHOLDER).toString("hex");
const PLACEHOLDER_INTS = [...Buffer.from(PLACEHOLDER)];

// ---------------------------------------------------------------------------------------------------------------
// The CRM project: a code table (composite key, secondary index, no events), persons (TOAST columns, lookups,
// key changes)

const CODES: Cols = { code_type: "string", code: "string", label: "string", lang: "string" };
const CODE_KEY = ["code_type", "code"];
const PERSONS: Cols = {
  id: "int32",
  name: "string",
  country_cd: "string",
  notes: "string",
  profile: "json",
  tags: "text[]",
  scores: "int[]",
  photo: "bytes",
};
const PERSON_KEY = ["id"];

const PERSON_EVENT = avsc("PersonChanged", [
  { name: "id", type: "long" },
  { name: "op", type: "string" },
  opt("name"),
  opt("notes"),
  opt("photo", "bytes"),
  opt("tags", { type: "array", items: "string" }),
  opt("scores", { type: "array", items: "int" }),
  opt("tier"),
  opt("previousName"),
  opt("previousNotes"),
  { name: "changed", type: { type: "array", items: "string" } },
  opt("country"),
  opt("countryByLabel"),
]);
const PERSON_KEY_CHANGED = avsc("PersonKeyChanged", [
  { name: "previousId", type: "long" },
  { name: "id", type: "long" },
  opt("name"),
  opt("notes"),
  opt("previousName"),
]);
const PERSON_DELETED = avsc("PersonDeleted", [{ name: "id", type: "long" }, opt("name"), opt("notes")]);

const CODES_FILE = [
  "table: crm.t_code_transl",
  "state: rows",
  "primaryKey: [code_type, code]",
  "index:",
  "  byLabel: [after.lang, after.label]",
  "events: []",
].join("\n");

function personsFile(fields: Record<string, string> = {}): string {
  const personFields = {
    id: "after.id",
    op: "op",
    name: "after.name",
    notes: "after.notes",
    photo: "after.photo",
    tags: "after.tags",
    scores: "after.scores",
    tier: "after.profile == null ? null : after.profile.tier",
    previousName: "before == null ? null : before.name",
    previousNotes: "before == null ? null : before.notes",
    changed: "changed",
    country:
      'lookup("crm.t_code_transl", ["COUNTRY", after.country_cd]) == null ? null : lookup("crm.t_code_transl", ["COUNTRY", after.country_cd]).label',
    countryByLabel:
      'lookup("crm.t_code_transl", ["EN", "Germany"], "byLabel") == null ? null : lookup("crm.t_code_transl", ["EN", "Germany"], "byLabel").code',
    ...fields,
  };
  return [
    "table: crm.persons",
    "state: rows",
    "events:",
    "  - name: PersonChanged",
    "    schema: schemas/PersonChanged.avsc",
    "    topic: crm.person-events",
    '    when: keyChange == null && (op == "c" || op == "u" || op == "r")',
    "    key: after.id",
    "    fields:",
    ...Object.entries(personFields).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
    "  - name: PersonKeyChanged",
    "    schema: schemas/PersonKeyChanged.avsc",
    "    topic: crm.person-events",
    '    when: keyChange != null && op == "c"',
    "    key: keyChange.new.id",
    "    fields:",
    "      previousId: keyChange.old.id",
    "      id: keyChange.new.id",
    "      name: after.name",
    "      notes: after.notes",
    '      previousName: "before == null ? null : before.name"',
    "  - name: PersonDeleted",
    "    schema: schemas/PersonDeleted.avsc",
    "    topic: crm.person-events",
    '    when: op == "d" && keyChange == null',
    "    key: before.id",
    "    fields:",
    "      id: before.id",
    "      name: before.name",
    "      notes: before.notes",
  ].join("\n");
}

function crmProject(
  f: Flavour,
  extra: Record<string, string | object> = {},
  persons = personsFile(),
): string {
  return project({
    "changecast.yaml": [
      "pipeline: crm",
      `source: { connector: ${f.connector}, topicPrefix: ${f.prefix}, format: json, files: [captures/*.jsonl] }`,
      `errors: { tolerance: all, deadLetterTopic: ${DLQ} }`,
      "transforms: [transforms/*.yaml]",
    ].join("\n"),
    "transforms/codes.yaml": CODES_FILE,
    "transforms/persons.yaml": persons,
    "schemas/PersonChanged.avsc": PERSON_EVENT,
    "schemas/PersonKeyChanged.avsc": PERSON_KEY_CHANGED,
    "schemas/PersonDeleted.avsc": PERSON_DELETED,
    "captures/crm.jsonl": "",
    ...extra,
  });
}

const code = (f: Flavour, op: "r" | "c" | "u" | "d", type: string, c: string, label: string, pos: number) =>
  change(
    f,
    "crm.t_code_transl",
    CODES,
    CODE_KEY,
    op,
    op === "c" || op === "r" ? null : { code_type: type, code: c, label: "", lang: "" },
    op === "d" ? null : { code_type: type, code: c, label, lang: "EN" },
    pos,
  );

const person = (id: number, name: string, more: Record<string, unknown> = {}) => ({
  id,
  name,
  country_cd: "DE",
  notes: `notes of ${name}`,
  profile: JSON.stringify({ tier: "gold" }),
  tags: ["vip"],
  scores: [1, 2],
  photo: Buffer.from(`photo of ${name}`).toString("base64"),
  ...more,
});
const toasted = (id: number, name: string, more: Record<string, unknown> = {}) => ({
  id,
  name,
  country_cd: "DE",
  notes: PLACEHOLDER,
  profile: PLACEHOLDER,
  tags: [PLACEHOLDER],
  scores: PLACEHOLDER_INTS,
  photo: PLACEHOLDER_B64,
  ...more,
});
const P = (
  f: Flavour,
  op: "r" | "c" | "u" | "d",
  before: object | null,
  after: object | null,
  pos: number,
  h: string[] = [],
) =>
  change(
    f,
    "crm.persons",
    PERSONS,
    PERSON_KEY,
    op,
    before as Record<string, unknown> | null,
    after as Record<string, unknown> | null,
    pos,
    h,
  );

const b64 = (s: string) => Buffer.from(s).toString("base64");

// ---------------------------------------------------------------------------------------------------------------

describe("state: rows, TOAST fill and before-images (Postgres, JsonConverter with schemas)", () => {
  it("a snapshot seeds the state; REPLICA IDENTITY DEFAULT updates get the previous image as before, placeholders filled in every form", () => {
    const dir = crmProject(PG);
    const { events, dead } = replay(dir, [
      code(PG, "r", "COUNTRY", "DE", "Germany", 1),
      P(PG, "r", null, person(1, "Ann"), 2),
      // REPLICA IDENTITY DEFAULT: before null; unchanged TOAST columns carry the placeholder in every form
      P(PG, "u", null, toasted(1, "Anne"), 3),
      P(PG, "u", null, toasted(1, "Anna"), 4),
    ]);
    expect(dead).toEqual([]);
    const updates = events.filter((e) => e.value?.op === "u");
    expect(updates).toHaveLength(2);
    for (const [i, u] of updates.entries()) {
      expect(u.value).toMatchObject({
        id: 1,
        name: i === 0 ? "Anne" : "Anna",
        notes: "notes of Ann",
        photo: b64("photo of Ann"),
        tags: ["vip"],
        scores: [1, 2],
        tier: "gold",
        previousName: i === 0 ? "Ann" : "Anne",
        previousNotes: "notes of Ann",
        changed: ["name"],
        country: "Germany",
        countryByLabel: "DE",
      });
    }
  });

  it("a delete under REPLICA IDENTITY DEFAULT (key and converter fallbacks only) sees the previous image as before", () => {
    const dir = crmProject(PG);
    const { events, dead } = replay(dir, [
      P(PG, "c", null, person(7, "Bob"), 1),
      P(
        PG,
        "d",
        {
          id: 7,
          name: "",
          country_cd: null,
          notes: null,
          profile: null,
          tags: null,
          scores: null,
          photo: null,
        },
        null,
        2,
      ),
    ]);
    expect(dead).toEqual([]);
    const deleted = events.find((e) => e.headers.ce_type === "io.crm.PersonDeleted");
    expect(deleted?.value).toEqual({ id: 7, name: "Bob", notes: "notes of Bob" });
  });

  it("a key-only before-image of an update is replaced, so changed and before.x work", () => {
    const dir = crmProject(PG);
    const { events } = replay(dir, [
      P(PG, "c", null, person(8, "Cy"), 1),
      P(
        PG,
        "u",
        {
          id: 8,
          name: "",
          country_cd: null,
          notes: null,
          profile: null,
          tags: null,
          scores: null,
          photo: null,
        },
        person(8, "Cyd", { notes: "notes of Cy", photo: b64("photo of Cy") }),
        2,
      ),
    ]);
    const u = events.find((e) => e.value?.op === "u");
    expect(u?.value).toMatchObject({ previousName: "Cy", changed: ["name"] });
  });

  it("without a previous image a used placeholder is a MAP dead letter; an unused one is fine", () => {
    const dir = crmProject(PG);
    const lines = [P(PG, "u", null, toasted(9, "Dee"), 1)];
    const { events, dead } = replay(dir, lines);
    expect(events).toEqual([]);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers["__connect.errors.stage"]).toBe("MAP");
    // the same record for a transform that does not read the TOAST columns
    const lean = crmProject(
      PG,
      {},
      personsFile({
        notes: "null",
        photo: "null",
        tags: "null",
        scores: "null",
        tier: "null",
        previousNotes: "null",
      }),
    );
    const r = replay(lean, lines);
    expect(r.dead).toEqual([]);
    expect(r.events[0]!.value).toMatchObject({ id: 9, name: "Dee", previousName: null, changed: [] });
  });

  it("a delete then re-insert, and a truncate, empty the row", () => {
    const dir = crmProject(PG);
    const trunc = change(PG, "crm.persons", PERSONS, PERSON_KEY, "t", null, null, 5);
    const { events, dead } = replay(dir, [
      P(PG, "c", null, person(1, "Ann"), 1),
      P(
        PG,
        "d",
        {
          id: 1,
          name: "",
          country_cd: null,
          notes: null,
          profile: null,
          tags: null,
          scores: null,
          photo: null,
        },
        null,
        2,
      ),
      // after the delete, the placeholder has nothing to be filled from: a dead letter, not the deleted value
      P(PG, "u", null, toasted(1, "Ann"), 3),
      P(PG, "c", null, person(2, "Bo"), 4),
      trunc,
      P(PG, "u", null, toasted(2, "Bob"), 6),
    ]);
    expect(events.map((e) => e.headers.ce_type)).toEqual([
      "io.crm.PersonChanged",
      "io.crm.PersonDeleted",
      "io.crm.PersonChanged",
    ]);
    expect(
      dead.map((d) => [JSON.parse(d.payload!).payload.source.lsn, d.headers["__connect.errors.stage"]]),
    ).toEqual([
      [1030, "MAP"],
      [1060, "MAP"],
    ]);
  });
});

describe("schemaless JsonConverter and other placeholder forms", () => {
  it("placeholders as plain JSON (text, base64 bytes, text[] and int[] forms) are filled from the previous image", () => {
    const dir = crmProject(PG_SCHEMALESS, {}, personsFile({ tier: "null" }));
    const { events, dead } = replay(dir, [
      P(PG_SCHEMALESS, "c", null, person(1, "Ann"), 1),
      P(PG_SCHEMALESS, "u", null, toasted(1, "Anne"), 2),
      // a delete whose before holds the key column only (the Debezium documentation's example)
      P(PG_SCHEMALESS, "d", { id: 1 }, null, 3),
    ]);
    expect(events.find((e) => e.headers.ce_type === "io.crm.PersonDeleted")?.value).toEqual({
      id: 1,
      name: "Anne",
      notes: "notes of Ann",
    });
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    const u = events.find((e) => e.value?.op === "u");
    expect(u?.value).toMatchObject({
      name: "Anne",
      notes: "notes of Ann",
      tags: ["vip"],
      scores: [1, 2],
      previousName: "Ann",
      changed: ["name"],
    });
    // bytes stay base64 text without a schema: the text of the previous image
    expect(u?.value?.photo).toBe(b64(b64("photo of Ann")));
  });

  it("binary.handling.mode=hex: the hex placeholder of a bytes column is filled", () => {
    const cols: Cols = { id: "int32", title: "string", content: "hexbytes" };
    const dir = project({
      "changecast.yaml": `pipeline: hex\nsource: { connector: postgres, topicPrefix: dbserver1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [docs.yaml]\n`,
      "docs.yaml": [
        "table: crm.docs",
        "state: rows",
        "events:",
        "  - name: Doc",
        "    schema: Doc.avsc",
        "    topic: docs",
        "    key: after.id",
        "    fields: { id: after.id, title: after.title, content: after.content }",
      ].join("\n"),
      "Doc.avsc": avsc("Doc", [
        { name: "id", type: "long" },
        { name: "title", type: "string" },
        { name: "content", type: "string" },
      ]),
    });
    const { events, dead } = replay(dir, [
      change(PG, "crm.docs", cols, ["id"], "c", null, { id: 1, title: "a", content: "cafe" }, 1),
      change(PG, "crm.docs", cols, ["id"], "u", null, { id: 1, title: "b", content: PLACEHOLDER_HEX }, 2),
      // hex in upper case, and binary.handling.mode=base64 (the column is a string holding base64 text)
      change(
        PG,
        "crm.docs",
        cols,
        ["id"],
        "u",
        null,
        { id: 1, title: "c", content: PLACEHOLDER_HEX.toUpperCase() },
        3,
      ),
      change(PG, "crm.docs", cols, ["id"], "u", null, { id: 1, title: "d", content: PLACEHOLDER_B64 }, 4),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => e.value)).toEqual([
      { id: 1, title: "a", content: "cafe" },
      { id: 1, title: "b", content: "cafe" },
      { id: 1, title: "c", content: "cafe" },
      { id: 1, title: "d", content: "cafe" },
    ]);
  });
});

describe("Oracle LOB placeholders", () => {
  const DOCS: Cols = { ID: "int32", TITLE: "string", BODY: "string", CONTENT: "bytes" };
  const dir = () =>
    project({
      "changecast.yaml": `pipeline: ora\nsource: { connector: oracle, topicPrefix: server1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [DOCS.yaml]\n`,
      "DOCS.yaml": [
        "table: CRM.DOCUMENTS",
        "state: rows",
        "events:",
        "  - name: DocumentChanged",
        "    schema: DocumentChanged.avsc",
        "    topic: crm.documents",
        '    when: op == "u"',
        "    key: after.ID",
        "    fields:",
        "      id: after.ID",
        "      title: after.TITLE",
        "      body: after.BODY",
        "      content: after.CONTENT",
        "      previousBody: before.BODY",
        "      changed: changed",
      ].join("\n"),
      "DocumentChanged.avsc": avsc("DocumentChanged", [
        { name: "id", type: "long" },
        { name: "title", type: "string" },
        { name: "body", type: "string" },
        { name: "content", type: "bytes" },
        { name: "previousBody", type: "string" },
        { name: "changed", type: { type: "array", items: "string" } },
      ]),
    });
  const D = (op: "r" | "c" | "u", before: object | null, after: object, pos: number) =>
    change(
      ORA,
      "CRM.DOCUMENTS",
      DOCS,
      ["ID"],
      op,
      before as Record<string, unknown>,
      after as Record<string, unknown>,
      pos,
    );

  it("LOBs the statement did not write are filled in after and before (both carry the placeholder)", () => {
    const { events, dead } = replay(dir(), [
      D("r", null, { ID: 1, TITLE: "Report", BODY: "long text", CONTENT: b64("pdf") }, 1),
      D(
        "u",
        { ID: 1, TITLE: "Report", BODY: PLACEHOLDER, CONTENT: PLACEHOLDER_B64 },
        { ID: 1, TITLE: "Report v2", BODY: PLACEHOLDER, CONTENT: PLACEHOLDER_B64 },
        2,
      ),
      // a LOB that is written appears in after; before still has the placeholder
      D(
        "u",
        { ID: 1, TITLE: "Report v2", BODY: PLACEHOLDER, CONTENT: PLACEHOLDER_B64 },
        { ID: 1, TITLE: "Report v2", BODY: "new text", CONTENT: PLACEHOLDER_B64 },
        3,
      ),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => e.value)).toEqual([
      {
        id: 1,
        title: "Report v2",
        body: "long text",
        content: b64("pdf"),
        previousBody: "long text",
        changed: ["TITLE"],
      },
      {
        id: 1,
        title: "Report v2",
        body: "new text",
        content: b64("pdf"),
        previousBody: "long text",
        changed: ["BODY"],
      },
    ]);
  });
});

describe("lookup()", () => {
  it("by composite primary key, by index, missing → null, and as of input order", () => {
    const dir = crmProject(PG);
    const { events, dead } = replay(dir, [
      P(PG, "c", null, person(1, "Ann"), 1), // no code yet: country null
      code(PG, "c", "COUNTRY", "DE", "Germany", 2),
      P(PG, "u", null, person(1, "Ann2"), 3), // Germany
      code(PG, "u", "COUNTRY", "DE", "Deutschland", 4),
      P(PG, "u", null, person(1, "Ann3"), 5), // Deutschland, and the index no longer finds "Germany"
      code(PG, "d", "COUNTRY", "DE", "", 6),
      P(PG, "u", null, person(1, "Ann4"), 7), // deleted: null
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => [e.value?.country, e.value?.countryByLabel])).toEqual([
      [null, null],
      ["Germany", "DE"],
      ["Deutschland", null],
      [null, null],
    ]);
  });

  it("changecast check learns a primary key from the capture files when the file declares none", () => {
    const files = (captureLine: string) =>
      crmProject(
        PG,
        {
          "transforms/codes.yaml": CODES_FILE.replace("primaryKey: [code_type, code]\n", ""),
          "captures/crm.jsonl": captureLine + "\n",
        },
        personsFile({ tier: 'lookup("crm.t_code_transl", ["COUNTRY", "DE", "EN"]) == null ? null : "x"' }),
      );
    const tierLine =
      readFileSync(join(files(""), "transforms", "persons.yaml"), "utf8")
        .split("\n")
        .findIndex((l) => l.trimStart().startsWith("tier:")) + 1;
    for (const flavour of [PG, PG_SCHEMALESS]) {
      const dir = files(code(flavour, "r", "COUNTRY", "DE", "Germany", 1));
      const r = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
      expect(r.stderr).toMatch(
        new RegExp(
          `persons\\.yaml:${tierLine}: .*key has 3 values, the primary key has 2 columns \\(code_type, code\\)`,
        ),
      );
      expect(r.code).toBe(1);
    }
    // no record of the table in the captures: nothing to check against (a dead letter at run time)
    const unknown = files("");
    expect(cli(unknown, ["check", "--config", join(unknown, "changecast.yaml")]).code).toBe(0);
  });

  it("changecast check points at the when: and key: lines of their lookups", () => {
    const persons = personsFile().replace(
      '    when: keyChange == null && (op == "c" || op == "u" || op == "r")\n    key: after.id',
      '    when: lookup("crm.nope", after.id) == null\n    key: lookup("crm.t_code_transl", ["EN"], "byLabel").code',
    );
    const dir = crmProject(PG, {}, persons);
    const r = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
    expect(r.code).toBe(1);
    const lines = persons.split("\n");
    const whenLine = lines.findIndex((l) => l.includes('lookup("crm.nope"')) + 1;
    const keyLine = lines.findIndex((l) => l.trimStart().startsWith("key: lookup")) + 1;
    expect(r.stderr).toMatch(new RegExp(`persons\\.yaml:${whenLine}: lookup\\("crm\\.nope"\\)`));
    expect(r.stderr).toMatch(new RegExp(`persons\\.yaml:${keyLine}: .*index has 2 expressions`));
  });

  it("a null key, or a key list holding null, finds nothing (no error)", () => {
    const dir = crmProject(PG);
    const { events, dead } = replay(dir, [
      code(PG, "c", "COUNTRY", "DE", "Germany", 1),
      P(PG, "c", null, person(1, "Ann", { country_cd: null }), 2),
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(events.map((e) => e.value?.country)).toEqual([null]);
  });

  it("a key given as a single value for a one-column key, and a lookup of its own table", () => {
    const dir = crmProject(
      PG,
      {},
      personsFile({
        previousName:
          'lookup("crm.persons", after.id) == null ? "none" : lookup("crm.persons", [after.id]).name',
      }),
    );
    const { events } = replay(dir, [
      P(PG, "c", null, person(1, "Ann"), 1),
      P(PG, "u", null, person(1, "Ann2"), 2),
    ]);
    // the change is applied before it is mapped: the own row is the new image
    expect(events.map((e) => e.value?.previousName)).toEqual(["Ann", "Ann2"]);
  });

  it("changecast check reports unknown tables, unknown indexes and wrong key arity with file:line", () => {
    const dir = crmProject(
      PG,
      {},
      personsFile({
        country: 'lookup("crm.nope", after.country_cd).label',
        countryByLabel: 'lookup("crm.t_code_transl", ["EN"], "byLabel").code',
        tier: 'lookup("crm.t_code_transl", ["COUNTRY"]).label',
        previousNotes: 'lookup("crm.t_code_transl", "x", "byName").label',
      }),
    );
    const r = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
    expect(r.code).toBe(1);
    const text = r.stdout + r.stderr;
    const lines = readFileSync(join(dir, "transforms", "persons.yaml"), "utf8").split("\n");
    const lineOf = (field: string) => lines.findIndex((l) => l.trimStart().startsWith(`${field}:`)) + 1;
    expect(text).toMatch(new RegExp(`persons\\.yaml:${lineOf("country")}: .*crm\\.nope`));
    expect(text).toMatch(new RegExp(`persons\\.yaml:${lineOf("countryByLabel")}: .*`));
    expect(text).toMatch(new RegExp(`persons\\.yaml:${lineOf("tier")}: .*`));
    expect(text).toMatch(new RegExp(`persons\\.yaml:${lineOf("previousNotes")}: .*byName`));
    expect(text).toMatch(
      new RegExp(`persons\\.yaml:${lineOf("tier")}: .*key has 1 value.*primary key has 2`),
    );
    expect(text).toMatch(
      new RegExp(`persons\\.yaml:${lineOf("countryByLabel")}: .*key has 1 value.*index has 2`),
    );
    // a table that keeps no state, a table name that is no literal, a key list for a one-column index
    const more = crmProject(
      PG,
      {
        "transforms/plain.yaml": "table: crm.plain\nevents: []\n",
      },
      personsFile({
        country: 'lookup("crm.plain", after.country_cd) == null ? null : "x"',
        countryByLabel: 'lookup("crm." + "t_code_transl", ["COUNTRY", "DE"]) == null ? null : "x"',
      }),
    );
    const r2 = cli(more, ["check", "--config", join(more, "changecast.yaml")]);
    expect(r2.code).toBe(1);
    const text2 = r2.stdout + r2.stderr;
    expect(text2).toMatch(new RegExp(`persons\\.yaml:${lineOf("country")}: .*crm\\.plain.*state: rows`));
    expect(text2).toMatch(new RegExp(`persons\\.yaml:${lineOf("countryByLabel")}: `));
    // and the valid project passes, also with a state-only file without `events:`
    const ok = crmProject(PG, { "transforms/codes.yaml": CODES_FILE.replace("events: []", "") });
    const good = cli(ok, ["check", "--config", join(ok, "changecast.yaml")]);
    expect(good.stdout + good.stderr).not.toMatch(/error|:\d+: /i);
    expect(good.code).toBe(0);
  });
});

describe("primary-key changes", () => {
  const keyHeader = (f: "json" | "schemaless" | "struct", id: number): string => {
    if (f === "struct") return `Struct{id=${id}}`;
    if (f === "schemaless") return JSON.stringify({ id });
    return JSON.stringify({
      schema: {
        type: "struct",
        fields: [{ type: "int32", optional: false, field: "id" }],
        optional: false,
        name: "dbserver1.crm.persons.Key",
      },
      payload: { id },
    });
  };
  for (const form of ["json", "schemaless", "struct"] as const) {
    it(`delete + tombstone + create with ${form} key headers: one KeyChanged, state moved to the new key`, () => {
      const dir = crmProject(PG);
      const tombstone = JSON.stringify({
        topic: "dbserver1.crm.persons",
        partition: 0,
        offset: 3,
        headers: [],
        key: JSON.stringify({
          schema: {
            type: "struct",
            fields: [{ type: "int32", optional: false, field: "id" }],
            optional: false,
            name: "k",
          },
          payload: { id: 1 },
        }),
        payload: null,
      });
      const { events, dead } = replay(dir, [
        P(PG, "c", null, person(1, "Ann"), 1),
        P(
          PG,
          "d",
          {
            id: 1,
            name: "",
            country_cd: null,
            notes: null,
            profile: null,
            tags: null,
            scores: null,
            photo: null,
          },
          null,
          2,
          ["__debezium.newkey", keyHeader(form, 2)],
        ),
        tombstone,
        P(PG, "c", null, toasted(2, "Ann"), 4, ["__debezium.oldkey", keyHeader(form, 1)]),
        // later: a TOAST update and a lookup by the new key; the old key is gone
        P(PG, "u", null, toasted(2, "Ann B"), 5),
        P(PG, "u", null, toasted(1, "Ghost"), 6),
      ]);
      expect(events.map((e) => e.headers.ce_type)).toEqual([
        "io.crm.PersonChanged",
        "io.crm.PersonKeyChanged",
        "io.crm.PersonChanged",
      ]);
      expect(events[1]!.key).toBe("2");
      expect(events[1]!.value).toEqual({
        previousId: 1,
        id: 2,
        name: "Ann",
        notes: "notes of Ann",
        previousName: "Ann",
      });
      expect(events[2]!.value).toMatchObject({
        id: 2,
        notes: "notes of Ann",
        previousName: "Ann",
        changed: ["name"],
      });
      expect(dead).toHaveLength(1); // the old key's TOAST update has no previous image any more
    });
  }

  it("keyChange.old.id on the delete half", () => {
    const dir = crmProject(PG, {
      "transforms/moves.yaml": [
        "table: crm.persons",
        "events:",
        "  - name: PersonMovedAway",
        "    schema: schemas/PersonMovedAway.avsc",
        "    topic: crm.moves",
        '    when: keyChange != null && op == "d"',
        "    key: keyChange.old.id",
        "    fields: { from: keyChange.old.id, to: keyChange.new.id, name: before.name }",
      ].join("\n"),
      "schemas/PersonMovedAway.avsc": avsc("PersonMovedAway", [
        { name: "from", type: "long" },
        { name: "to", type: "long" },
        opt("name"),
      ]),
    });
    const { events, dead } = replay(dir, [
      P(PG, "c", null, person(1, "Ann"), 1),
      P(
        PG,
        "d",
        {
          id: 1,
          name: "",
          country_cd: null,
          notes: null,
          profile: null,
          tags: null,
          scores: null,
          photo: null,
        },
        null,
        2,
        ["__debezium.newkey", '{"id":5}'],
      ),
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(events.filter((e) => e.topic === "crm.moves").map((e) => e.value)).toEqual([
      { from: 1, to: 5, name: "Ann" },
    ]);
  });
});

describe("primary-key change of a composite key (code table)", () => {
  it("the row and its index entries move to the new key; keyChange has every key column", () => {
    const keyChanges = [
      "table: crm.t_code_transl",
      "events:",
      "  - name: CodeKeyChanged",
      "    schema: schemas/CodeKeyChanged.avsc",
      "    topic: crm.codes",
      '    when: keyChange != null && op == "c"',
      '    key: keyChange.new.code_type + ":" + keyChange.new.code',
      "    fields:",
      "      from: keyChange.old.code",
      "      to: keyChange.new.code",
      "      label: after.label",
      "      previousLabel: before.label",
    ].join("\n");
    const dir = crmProject(PG, {
      "transforms/code-keys.yaml": keyChanges,
      "schemas/CodeKeyChanged.avsc": avsc("CodeKeyChanged", [
        { name: "from", type: "string" },
        { name: "to", type: "string" },
        { name: "label", type: "string" },
        opt("previousLabel"),
      ]),
    });
    const oldKey = JSON.stringify({ code_type: "COUNTRY", code: "DE" });
    const newKey = JSON.stringify({ code_type: "COUNTRY", code: "DEU" });
    const { events, dead } = replay(dir, [
      code(PG, "r", "COUNTRY", "DE", "Germany", 1),
      change(
        PG,
        "crm.t_code_transl",
        CODES,
        CODE_KEY,
        "d",
        { code_type: "COUNTRY", code: "DE", label: "", lang: "" },
        null,
        2,
        ["__debezium.newkey", newKey],
      ),
      change(
        PG,
        "crm.t_code_transl",
        CODES,
        CODE_KEY,
        "c",
        null,
        { code_type: "COUNTRY", code: "DEU", label: "Germany", lang: "EN" },
        3,
        ["__debezium.oldkey", oldKey],
      ),
      P(PG, "c", null, person(1, "Ann", { country_cd: "DEU" }), 4),
      P(PG, "c", null, person(2, "Bob", { country_cd: "DE" }), 5),
    ]);
    expect(dead).toEqual([]);
    expect(
      events.map((e) => [e.topic, e.key, e.value?.from ?? e.value?.country, e.value?.countryByLabel]),
    ).toEqual([
      ["crm.codes", "COUNTRY:DEU", "DE", undefined],
      ["crm.person-events", "1", "Germany", "DEU"],
      ["crm.person-events", "2", null, "DEU"],
    ]);
    expect(events[0]!.value).toEqual({ from: "DE", to: "DEU", label: "Germany", previousLabel: "Germany" });
  });
});

describe("primary-key change with SimpleHeaderConverter text of a text key", () => {
  it('a code like 01 stays text: keyChange.old.code is "01" and the row moves from it', () => {
    const dir = crmProject(PG, {
      "transforms/code-keys.yaml": [
        "table: crm.t_code_transl",
        "events:",
        "  - name: CodeKeyChanged",
        "    schema: schemas/CodeKeyChanged.avsc",
        "    topic: crm.codes",
        '    when: keyChange != null && op == "c"',
        "    key: keyChange.new.code",
        "    fields: { from: keyChange.old.code, to: keyChange.new.code, previousLabel: before.label }",
      ].join("\n"),
      "schemas/CodeKeyChanged.avsc": avsc("CodeKeyChanged", [
        { name: "from", type: "string" },
        { name: "to", type: "string" },
        opt("previousLabel"),
      ]),
    });
    const { events, dead } = replay(dir, [
      code(PG, "r", "REGION", "01", "North", 1),
      change(
        PG,
        "crm.t_code_transl",
        CODES,
        CODE_KEY,
        "d",
        { code_type: "REGION", code: "01", label: "", lang: "" },
        null,
        2,
        ["__debezium.newkey", "Struct{code_type=REGION,code=02}"],
      ),
      change(
        PG,
        "crm.t_code_transl",
        CODES,
        CODE_KEY,
        "c",
        null,
        { code_type: "REGION", code: "02", label: "North", lang: "EN" },
        3,
        ["__debezium.oldkey", "Struct{code_type=REGION,code=01}"],
      ),
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(events.filter((e) => e.topic === "crm.codes").map((e) => e.value)).toEqual([
      { from: "01", to: "02", previousLabel: "North" },
    ]);
  });
});

describe("primary-key change of a key column named __proto__ (SimpleHeaderConverter text)", () => {
  it('keyChange.old["__proto__"] is the column', () => {
    const cols: Cols = { label: "string" };
    Object.defineProperty(cols, "__proto__", { value: "string", enumerable: true });
    const dir = project({
      "changecast.yaml": `pipeline: protokey\nsource: { connector: postgres, topicPrefix: dbserver1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [t.yaml]\n`,
      "t.yaml": [
        "table: crm.weird",
        "state: rows",
        "events:",
        "  - name: Moved",
        "    schema: Moved.avsc",
        "    topic: moved",
        '    when: keyChange != null && op == "c"',
        '    key: keyChange.new["__proto__"]',
        "    fields: { from: 'keyChange.old[\"__proto__\"]', label: before.label }",
      ].join("\n"),
      "Moved.avsc": avsc("Moved", [{ name: "from", type: "string" }, opt("label")]),
    });
    const row = (key: string, label: string) => {
      const r: Record<string, unknown> = { label };
      Object.defineProperty(r, "__proto__", { value: key, enumerable: true });
      return r;
    };
    const { events, dead } = replay(dir, [
      change(PG, "crm.weird", cols, ["__proto__"], "c", null, row("a", "first"), 1),
      change(PG, "crm.weird", cols, ["__proto__"], "d", row("a", ""), null, 2, [
        "__debezium.newkey",
        "Struct{__proto__=b}",
      ]),
      change(PG, "crm.weird", cols, ["__proto__"], "c", null, row("b", "first"), 3, [
        "__debezium.oldkey",
        "Struct{__proto__=a}",
      ]),
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(events.map((e) => [e.key, e.value])).toEqual([["b", { from: "a", label: "first" }]]);
  });
});

describe("Oracle LOB placeholders without a previous image", () => {
  it("a placeholder read from after or before is a MAP dead letter; a change that does not read it is mapped", () => {
    const DOCS: Cols = { ID: "int32", TITLE: "string", BODY: "string" };
    const file = (fields: string) =>
      [
        "table: CRM.DOCUMENTS",
        "state: rows",
        "events:",
        "  - name: Doc",
        "    schema: Doc.avsc",
        "    topic: docs",
        "    key: after.ID",
        `    fields: { ${fields} }`,
      ].join("\n");
    const make = (fields: string) =>
      project({
        "changecast.yaml": `pipeline: ora2\nsource: { connector: oracle, topicPrefix: server1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [d.yaml]\n`,
        "d.yaml": file(fields),
        "Doc.avsc": avsc("Doc", [
          { name: "id", type: "long" },
          opt("text"),
          { name: "changed", type: { type: "array", items: "string" } },
        ]),
      });
    const update = change(
      ORA,
      "CRM.DOCUMENTS",
      DOCS,
      ["ID"],
      "u",
      { ID: 1, TITLE: "a", BODY: PLACEHOLDER },
      { ID: 1, TITLE: "b", BODY: PLACEHOLDER },
      1,
    );
    for (const fields of [
      "id: after.ID, text: after.BODY, changed: changed",
      "id: after.ID, text: before.BODY, changed: changed",
    ]) {
      const r = replay(make(fields), [update]);
      expect(r.events).toEqual([]);
      expect(r.dead.map((d) => d.headers["__connect.errors.stage"])).toEqual(["MAP"]);
    }
    const ok = replay(make("id: after.ID, text: after.TITLE, changed: changed"), [update]);
    expect(ok.dead).toEqual([]);
    // an unavailable column never counts as changed
    expect(ok.events.map((e) => e.value)).toEqual([{ id: 1, text: "b", changed: ["TITLE"] }]);
  });
});

describe("hostile names", () => {
  it("constructor / __proto__ as table, column and key values", () => {
    const cols: Cols = {
      id: "string",
      constructor: "string",
      __proto__: "string",
      toString: "string",
    } as Cols;
    Object.defineProperty(cols, "__proto__", { value: "string", enumerable: true });
    const dir = project({
      "changecast.yaml": `pipeline: hostile\nsource: { connector: postgres, topicPrefix: dbserver1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [t.yaml, u.yaml]\n`,
      "t.yaml": ["table: constructor.__proto__", "state: rows", "events: []"].join("\n"),
      "u.yaml": [
        "table: crm.refs",
        "state: rows",
        "events:",
        "  - name: Ref",
        "    schema: Ref.avsc",
        "    topic: refs",
        "    key: after.id",
        "    fields:",
        "      id: after.id",
        '      a: "lookup(\\"constructor.__proto__\\", \\"__proto__\\") == null ? \\"none\\" : lookup(\\"constructor.__proto__\\", \\"__proto__\\")[\\"__proto__\\"]"',
        '      b: "lookup(\\"constructor.__proto__\\", \\"constructor\\") == null ? \\"none\\" : lookup(\\"constructor.__proto__\\", \\"constructor\\").constructor"',
        '      c: "lookup(\\"constructor.__proto__\\", \\"toString\\") == null ? \\"none\\" : \\"found\\""',
        '      d: after["__proto__"]',
      ].join("\n"),
      "Ref.avsc": avsc("Ref", [
        { name: "id", type: "string" },
        { name: "a", type: "string" },
        { name: "b", type: "string" },
        { name: "c", type: "string" },
        opt("d"),
      ]),
    });
    const hostileRow = (id: string, v: string) => {
      const row: Record<string, unknown> = { id, constructor: `${v}-c`, toString: `${v}-t` };
      Object.defineProperty(row, "__proto__", { value: `${v}-p`, enumerable: true });
      return row;
    };
    const refCols: Cols = { id: "string" };
    Object.defineProperty(refCols, "__proto__", { value: "string", enumerable: true });
    const ref = (id: string, pos: number) => {
      const row: Record<string, unknown> = { id };
      Object.defineProperty(row, "__proto__", { value: PLACEHOLDER, enumerable: true });
      return change(PG, "crm.refs", refCols, ["id"], pos === 3 ? "c" : "u", null, row, pos);
    };
    const first: Record<string, unknown> = { id: "r" };
    Object.defineProperty(first, "__proto__", { value: "proto-col", enumerable: true });
    const { events, dead } = replay(dir, [
      change(PG, "constructor.__proto__", cols, ["id"], "c", null, hostileRow("__proto__", "p"), 1),
      change(PG, "constructor.__proto__", cols, ["id"], "c", null, hostileRow("constructor", "k"), 2),
      change(PG, "crm.refs", refCols, ["id"], "c", null, first, 3),
      ref("r", 4), // __proto__ column unavailable: filled from the previous image
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(events.map((e) => e.value)).toEqual([
      { id: "r", a: "p-p", b: "k-c", c: "none", d: "proto-col" },
      { id: "r", a: "p-p", b: "k-c", c: "none", d: "proto-col" },
    ]);
  });
});

describe("hostile index names", () => {
  it("indexes named constructor and __proto__ work; toString is no index", () => {
    const codes = [
      "table: crm.t_code_transl",
      "state: rows",
      "index:",
      "  constructor: [after.label]",
      "  __proto__: [after.code]",
      "events: []",
    ].join("\n");
    const dir = crmProject(
      PG,
      { "transforms/codes.yaml": codes },
      personsFile({
        country:
          'lookup("crm.t_code_transl", "Germany", "constructor") == null ? null : lookup("crm.t_code_transl", "Germany", "constructor").code',
        countryByLabel:
          'lookup("crm.t_code_transl", after.country_cd, "__proto__") == null ? null : lookup("crm.t_code_transl", after.country_cd, "__proto__").label',
      }),
    );
    const check = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
    expect(check.stdout + check.stderr).toMatch(/^ok: /m);
    const { events, dead } = replay(dir, [
      code(PG, "c", "COUNTRY", "DE", "Germany", 1),
      P(PG, "c", null, person(1, "Ann"), 2),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => [e.value?.country, e.value?.countryByLabel])).toEqual([["DE", "Germany"]]);
    const bad = crmProject(
      PG,
      { "transforms/codes.yaml": codes },
      personsFile({ country: 'lookup("crm.t_code_transl", "x", "toString") == null ? null : "x"' }),
    );
    const r = cli(bad, ["check", "--config", join(bad, "changecast.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no index "toString"/);
  });
});

describe("scale and embedded run", () => {
  it("a code table of 100 000 rows kept as state, looked up by every change", () => {
    const N = 100_000;
    const dir = crmProject(PG);
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(code(PG, "r", "COUNTRY", `C${i}`, `Land ${i}`, i + 1));
    for (let i = 0; i < 50; i++)
      lines.push(P(PG, "c", null, person(i, `P${i}`, { country_cd: `C${(i * 1999) % N}` }), N + 1 + i));
    const { events, dead, stderr } = replay(dir, lines);
    expect(dead).toEqual([]);
    expect(events).toHaveLength(50);
    expect(events.map((e) => e.value?.country)).toEqual(
      Array.from({ length: 50 }, (_, i) => `Land ${(i * 1999) % N}`),
    );
    expect(stderr).toMatch(new RegExp(`${N + 50} records in`));
  }, 300_000);

  it("embedded run twice: state persists across runs (TOAST fill, lookups), nothing published twice", () => {
    const dir = crmProject(PG);
    const capture = join(dir, "captures", "crm.jsonl");
    mkdirSync(join(dir, "captures"), { recursive: true });
    writeFileSync(
      capture,
      [code(PG, "r", "COUNTRY", "DE", "Germany", 1), P(PG, "r", null, person(1, "Ann"), 2)].join("\n") + "\n",
    );
    const first = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(first.code, first.stderr).toBe(0);
    const outFile = join(dir, ".changecast", "out", "crm.person-events.jsonl");
    const read = () =>
      readFileSync(outFile, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Out);
    expect(read()).toHaveLength(1);
    // the same run again: nothing new
    const again = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(again.code, again.stderr).toBe(0);
    expect(read()).toHaveLength(1);
    // new records appended: the update's TOAST columns and lookup come from the state of the first run
    writeFileSync(capture, readFileSync(capture, "utf8") + P(PG, "u", null, toasted(1, "Anne"), 3) + "\n");
    const third = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(third.code, third.stderr).toBe(0);
    const out = read();
    expect(out).toHaveLength(2);
    // every column type survives the state store between runs (text, json, text[], int[], bytes)
    expect(out[1]!.value).toMatchObject({
      tier: "gold",
      tags: ["vip"],
      scores: [1, 2],
      photo: b64("photo of Ann"),
    });
    expect(out[1]!.value).toMatchObject({
      name: "Anne",
      notes: "notes of Ann",
      previousName: "Ann",
      country: "Germany",
      changed: ["name"],
    });
    expect(new Set(out.map((o) => o.headers.ce_id)).size).toBe(2);
    expect(existsSync(join(dir, ".changecast", "out", `${DLQ}.jsonl`))).toBe(false);
  }, 120_000);
});

describe("Oracle code table without supplemental logging of all columns (composite key)", () => {
  const CODES_ORA: Cols = { CODE_TYPE: "string", CODE: "string", LABEL: "string" };
  const dir = (primaryKey: boolean) =>
    project({
      "changecast.yaml": `pipeline: bare\nsource: { connector: oracle, topicPrefix: server1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [c.yaml]\n`,
      "c.yaml": [
        "table: CRM.T_CODE_TRANSL",
        "state: rows",
        ...(primaryKey ? ["primaryKey: [CODE_TYPE, CODE]"] : []),
        "events:",
        "  - name: CodeRelabelled",
        "    schema: CodeRelabelled.avsc",
        "    topic: codes",
        '    when: op == "u" && "LABEL" in changed',
        '    key: after.CODE_TYPE + ":" + after.CODE',
        "    fields: { code: after.CODE, label: after.LABEL, previous: before.LABEL }",
      ].join("\n"),
      "CodeRelabelled.avsc": avsc("CodeRelabelled", [
        { name: "code", type: "string" },
        { name: "label", type: "string" },
        opt("previous"),
      ]),
    });
  const C = (op: "r" | "u", before: object | null, after: object, pos: number) =>
    change(
      ORA,
      "CRM.T_CODE_TRANSL",
      CODES_ORA,
      ["CODE_TYPE", "CODE"],
      op,
      before as Record<string, unknown>,
      after as Record<string, unknown>,
      pos,
    );
  const lines = [
    C("r", null, { CODE_TYPE: "COUNTRY", CODE: "DE", LABEL: "Germany" }, 1),
    // the redo has the key and the changed column only: before holds the key, the rest null
    C(
      "u",
      { CODE_TYPE: "COUNTRY", CODE: "DE", LABEL: null },
      { CODE_TYPE: "COUNTRY", CODE: "DE", LABEL: "Deutschland" },
      2,
    ),
  ];
  const expected = [["COUNTRY:DE", { code: "DE", label: "Deutschland", previous: "Germany" }]];

  it("kcat lines: the key-only before is the previous image", () => {
    const { events, dead } = replay(dir(false), lines);
    expect(dead).toEqual([]);
    expect(events.map((e) => [e.key, e.value])).toEqual(expected);
  });

  it("bare Debezium values with --topic (no record key): the declared primaryKey keys the state", () => {
    const bare = lines.map((l) => (JSON.parse(l) as { payload: string }).payload);
    const { events, dead } = replay(dir(true), bare, ["--topic", "server1.CRM.T_CODE_TRANSL"]);
    expect(dead).toEqual([]);
    expect(events.map((e) => [e.key, e.value])).toEqual(expected);
  });
});

describe("keyChange without any table state", () => {
  it("a pipeline with no state: rows file still sees keyChange on both halves", () => {
    const dir = project({
      "changecast.yaml": `pipeline: nostate\nsource: { connector: oracle, topicPrefix: server1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [c.yaml]\n`,
      "c.yaml": [
        "table: CRM.CUSTOMERS",
        "events:",
        "  - name: CustomerKeyChanged",
        "    schema: K.avsc",
        "    topic: customers",
        '    when: keyChange != null && op == "c"',
        "    key: keyChange.new.ID",
        "    fields: { from: keyChange.old.ID, to: keyChange.new.ID }",
        "  - name: CustomerDeleted",
        "    schema: D.avsc",
        "    topic: customers",
        '    when: op == "d" && keyChange == null',
        "    key: before.ID",
        "    fields: { id: before.ID }",
      ].join("\n"),
      "K.avsc": avsc("CustomerKeyChanged", [
        { name: "from", type: "long" },
        { name: "to", type: "long" },
      ]),
      "D.avsc": avsc("CustomerDeleted", [{ name: "id", type: "long" }]),
    });
    const cols: Cols = { ID: "int32", NAME: "string" };
    const { events, dead } = replay(dir, [
      change(ORA, "CRM.CUSTOMERS", cols, ["ID"], "d", { ID: 1, NAME: "a" }, null, 1, [
        "__debezium.newkey",
        "Struct{ID=2}",
      ]),
      change(ORA, "CRM.CUSTOMERS", cols, ["ID"], "c", null, { ID: 2, NAME: "a" }, 2, [
        "__debezium.oldkey",
        "Struct{ID=1}",
      ]),
      change(ORA, "CRM.CUSTOMERS", cols, ["ID"], "d", { ID: 2, NAME: "a" }, null, 3),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => [e.headers.ce_type, e.key, e.value])).toEqual([
      ["io.crm.CustomerKeyChanged", "2", { from: 1, to: 2 }],
      ["io.crm.CustomerDeleted", "2", { id: 2 }],
    ]);
  });
});

describe("lookup() in when and key", () => {
  it("filters and keys by a looked-up value", () => {
    const dir = crmProject(
      PG,
      {},
      personsFile().replace(
        '    when: keyChange == null && (op == "c" || op == "u" || op == "r")\n    key: after.id',
        '    when: lookup("crm.t_code_transl", ["COUNTRY", after.country_cd]) != null\n    key: lookup("crm.t_code_transl", ["COUNTRY", after.country_cd]).label + "/" + string(after.id)',
      ),
    );
    const { events, dead } = replay(dir, [
      P(PG, "c", null, person(1, "Ann", { country_cd: "XX" }), 1),
      code(PG, "c", "COUNTRY", "DE", "Germany", 2),
      P(PG, "c", null, person(2, "Bob"), 3),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => e.key)).toEqual(["Germany/2"]);
  });
});

describe("embedded run: key change and truncate across runs", () => {
  it("the create half in a later run continues the old key's row; a truncated code table looks up nothing", () => {
    const dir = crmProject(PG);
    const capture = join(dir, "captures", "crm.jsonl");
    const append = (...lines: string[]) =>
      writeFileSync(capture, readFileSync(capture, "utf8") + lines.join("\n") + "\n");
    const run = () => {
      const r = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
      expect(r.code, r.stderr).toBe(0);
    };
    const read = () =>
      readFileSync(join(dir, ".changecast", "out", "crm.person-events.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Out);
    append(code(PG, "r", "COUNTRY", "DE", "Germany", 1), P(PG, "r", null, person(1, "Ann"), 2));
    run();
    append(
      P(
        PG,
        "d",
        {
          id: 1,
          name: "",
          country_cd: null,
          notes: null,
          profile: null,
          tags: null,
          scores: null,
          photo: null,
        },
        null,
        3,
        ["__debezium.newkey", '{"id":2}'],
      ),
    );
    run();
    append(P(PG, "c", null, toasted(2, "Ann"), 4, ["__debezium.oldkey", '{"id":1}']));
    run();
    append(
      change(PG, "crm.t_code_transl", CODES, CODE_KEY, "t", null, null, 5),
      P(PG, "u", null, toasted(2, "Anna"), 6),
    );
    run();
    const out = read();
    expect(out.map((o) => [o.headers.ce_type, o.key])).toEqual([
      ["io.crm.PersonChanged", "1"],
      ["io.crm.PersonKeyChanged", "2"],
      ["io.crm.PersonChanged", "2"],
    ]);
    expect(out[1]!.value).toEqual({
      previousId: 1,
      id: 2,
      name: "Ann",
      notes: "notes of Ann",
      previousName: "Ann",
    });
    expect(out[2]!.value).toMatchObject({
      name: "Anna",
      notes: "notes of Ann",
      previousName: "Ann",
      country: null,
    });
    // a truncate of a table that is not looked up (rows loaded per batch) empties its stored rows too
    append(
      change(PG, "crm.persons", PERSONS, PERSON_KEY, "t", null, null, 7),
      P(PG, "u", null, toasted(2, "Annie"), 8),
    );
    run();
    expect(read()).toHaveLength(3);
    const dlq = readFileSync(join(dir, ".changecast", "out", `${DLQ}.jsonl`), "utf8")
      .trim()
      .split("\n");
    expect(dlq.map((l) => (JSON.parse(l) as Out).headers["__connect.errors.stage"])).toEqual(["MAP"]);
  }, 120_000);
});

describe("embedded run of hand-written captures", () => {
  it("lines without offset and without a source position are applied in file order", () => {
    const bare = (line: string) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      delete o.offset;
      const v = JSON.parse(o.payload as string) as { source: Record<string, unknown> };
      delete v.source.lsn;
      delete v.source.sequence;
      o.payload = JSON.stringify(v);
      return JSON.stringify(o);
    };
    const dir = crmProject(PG_SCHEMALESS, {}, personsFile({ tier: "null" }));
    writeFileSync(
      join(dir, "captures", "crm.jsonl"),
      [
        code(PG_SCHEMALESS, "r", "COUNTRY", "DE", "Germany", 1),
        code(PG_SCHEMALESS, "u", "COUNTRY", "DE", "Deutschland", 2),
        P(PG_SCHEMALESS, "c", null, person(1, "Ann"), 3),
        P(PG_SCHEMALESS, "u", null, toasted(1, "Anne"), 4),
        P(PG_SCHEMALESS, "u", null, toasted(1, "Anna"), 5),
      ]
        .map(bare)
        .join("\n") + "\n",
    );
    const r = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(r.code, r.stderr).toBe(0);
    const out = readFileSync(join(dir, ".changecast", "out", "crm.person-events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as Out).value);
    expect(out.map((v) => [v?.name, v?.notes, v?.previousName, v?.country])).toEqual([
      ["Ann", "notes of Ann", null, "Deutschland"],
      ["Anne", "notes of Ann", "Ann", "Deutschland"],
      ["Anna", "notes of Ann", "Anne", "Deutschland"],
    ]);
  }, 60_000);
});

describe("embedded bootstrap and ce_id", () => {
  it("a looked-up code table is read to its end before other records (embedded run); replay keeps input order; same ce_ids", () => {
    const dir = crmProject(PG);
    const lines = [
      P(PG, "c", null, person(1, "Ann"), 1),
      P(PG, "u", null, toasted(1, "Anne"), 2),
      code(PG, "c", "COUNTRY", "DE", "Germany", 3),
    ];
    writeFileSync(join(dir, "captures", "crm.jsonl"), lines.join("\n") + "\n");
    const r = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(r.code, r.stderr).toBe(0);
    const run = readFileSync(join(dir, ".changecast", "out", "crm.person-events.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Out);
    expect(run.map((o) => o.value?.country)).toEqual(["Germany", "Germany"]);
    const replayed = replay(dir, lines).events;
    expect(replayed.map((o) => o.value?.country)).toEqual([null, null]);
    expect(replayed.map((o) => o.headers.ce_id)).toEqual(run.map((o) => o.headers.ce_id));
    expect(replay(dir, lines).events.map((o) => o.headers.ce_id)).toEqual(run.map((o) => o.headers.ce_id));
  }, 60_000);
});

describe("a looked-up table with events of its own (embedded run)", () => {
  it("its changes, applied by the bootstrap first, are mapped with the images that preceded them", () => {
    const relabel = [
      "table: crm.t_code_transl",
      "events:",
      "  - name: CodeRelabelled",
      "    schema: schemas/CodeRelabelled.avsc",
      "    topic: crm.codes",
      '    when: op == "u"',
      '    key: after.code_type + ":" + after.code',
      "    fields: { label: after.label, previous: before.label, changed: changed }",
    ].join("\n");
    const dir = crmProject(PG, {
      "transforms/relabel.yaml": relabel,
      "schemas/CodeRelabelled.avsc": avsc("CodeRelabelled", [
        { name: "label", type: "string" },
        { name: "previous", type: "string" },
        { name: "changed", type: { type: "array", items: "string" } },
      ]),
    });
    const u = (label: string, pos: number) =>
      change(
        PG,
        "crm.t_code_transl",
        CODES,
        CODE_KEY,
        "u",
        null,
        { code_type: "COUNTRY", code: "DE", label, lang: "EN" },
        pos,
      );
    const lines = [
      code(PG, "r", "COUNTRY", "DE", "Germany", 1),
      u("Deutschland", 2),
      u("Allemagne", 3),
      u("Germania", 4),
    ];
    writeFileSync(join(dir, "captures", "crm.jsonl"), lines.join("\n") + "\n");
    const r = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
    expect(r.code, r.stderr).toBe(0);
    const run = readFileSync(join(dir, ".changecast", "out", "crm.codes.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as Out).value);
    const expected = [
      { label: "Deutschland", previous: "Germany", changed: ["label"] },
      { label: "Allemagne", previous: "Deutschland", changed: ["label"] },
      { label: "Germania", previous: "Allemagne", changed: ["label"] },
    ];
    expect(run).toEqual(expected);
    expect(replay(dir, lines).events.map((e) => e.value)).toEqual(expected);
  }, 60_000);
});

describe("Oracle update without supplemental logging of all columns", () => {
  it("the before-image's columns missing from the redo (null, converter fallbacks) are the previous image's", () => {
    const cols: Cols = { ID: "int32", NAME: "string", CITY: "string", NOTE: "string" };
    const dir = project({
      "changecast.yaml": `pipeline: orapk\nsource: { connector: oracle, topicPrefix: server1 }\nerrors: { tolerance: all, deadLetterTopic: ${DLQ} }\ntransforms: [p.yaml]\n`,
      "p.yaml": [
        "table: CRM.PERSONS",
        "state: rows",
        "events:",
        "  - name: PersonUpdated",
        "    schema: PersonUpdated.avsc",
        "    topic: persons",
        '    when: op == "u"',
        "    key: after.ID",
        "    fields: { changed: changed, previousCity: before.CITY, previousName: before.NAME }",
      ].join("\n"),
      "PersonUpdated.avsc": avsc("PersonUpdated", [
        { name: "changed", type: { type: "array", items: "string" } },
        opt("previousCity"),
        opt("previousName"),
      ]),
    });
    const row = (name: string, city: string | null, note: string) => ({
      ID: 1,
      NAME: name,
      CITY: city,
      NOTE: note,
    });
    const { events, dead } = replay(dir, [
      change(ORA, "CRM.PERSONS", cols, ["ID"], "r", null, row("Ann", "Bonn", "x"), 1),
      // UPDATE ... SET NAME = 'Anne': the redo has the key and NAME; CITY (nullable) null, NOTE (NOT NULL) ""
      change(ORA, "CRM.PERSONS", cols, ["ID"], "u", row("Ann", null, ""), row("Anne", "Bonn", "x"), 2),
      // a real change to null stays one
      change(ORA, "CRM.PERSONS", cols, ["ID"], "u", row("", "Bonn", ""), row("Anne", null, "x"), 3),
    ]);
    expect(dead).toEqual([]);
    expect(events.map((e) => e.value)).toEqual([
      { changed: ["NAME"], previousCity: "Bonn", previousName: "Ann" },
      { changed: ["CITY"], previousCity: "Bonn", previousName: "Anne" },
    ]);
  });
});
