// Acceptance of `changecast sink` as a user meets it: a project of its own (pipeline, schemas, captures, sink
// file), the compiled CLI, embedded mode into SQLite and into Postgres. The event streams hold what real streams
// hold: Debezium re-deliveries (the same ce_id again), an older change after a newer one, keys interleaved,
// several events of one change, a delete then a re-create, and bad events.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import avro from "avsc";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRegistryServe } from "../../src/cli/registry-serve.js";
import { startMockKafka } from "../infra/mock-kafka.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import { consumeUntil, quietKafka, withProducer } from "../kafka/helpers.js";
import { appendChanges, migrationProject } from "../migrate/harness.js";
import { connect, ROOT } from "./harness.js";

const BIN = join(ROOT, "bin", "changecast.js");
const ENV = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

/** The CLI without blocking this process (its registry server must answer the child). */
function cliAsync(dir: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: ENV });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((done) => child.on("close", (code) => done({ code: code ?? -1, out, err })));
}

function cli(dir: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", env: ENV });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const PIPELINE = `pipeline: acc
source:
  connector: postgres
  topicPrefix: srv
  format: json
  files: [captures/*.jsonl]
registry:
  compatibility: BACKWARD
  subjectNameStrategy: TopicRecordNameStrategy
state: sqlite:.changecast/state.sqlite
delivery: exactly-once
errors:
  tolerance: all
  deadLetterTopic: acc.dlq
transforms: [transforms/*.yaml]
`;

const THING_SAVED = {
  type: "record",
  name: "ThingSaved",
  namespace: "io.acc",
  fields: [
    { name: "id", type: "long" },
    { name: "region", type: "string" },
    { name: "price", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 4 } },
    { name: "at", type: { type: "long", logicalType: "timestamp-micros" } },
    { name: "note", type: ["null", "string"], default: null },
    { name: "kind", type: { type: "enum", name: "Kind", symbols: ["SMALL", "LARGE"] } },
    { name: "tags", type: { type: "array", items: "string" } },
    { name: "attrs", type: { type: "map", values: "string" } },
    { name: "blob", type: "bytes" },
    { name: "flag", type: "boolean" },
    { name: "day", type: { type: "int", logicalType: "date" } },
    { name: "code", type: ["null", "string", "long"], default: null },
  ],
};
const THING_NOTED = {
  type: "record",
  name: "ThingNoted",
  namespace: "io.acc",
  fields: [
    { name: "id", type: "long" },
    { name: "region", type: "string" },
    { name: "note", type: ["null", "string"], default: null },
  ],
};
const THING_DELETED = {
  type: "record",
  name: "ThingDeleted",
  namespace: "io.acc",
  fields: [
    { name: "id", type: "long" },
    { name: "region", type: "string" },
  ],
};

// one change of public.things maps to ThingSaved and, when it is an update, also to ThingNoted (same position)
const TRANSFORM = `table: public.things
events:
  - name: ThingSaved
    schema: schemas/ThingSaved.avsc
    topic: acc.things
    when: op != "d"
    key: string(after.id) + "/" + after.region
    fields:
      id: after.id
      region: after.region
      price: after.price
      at: after.at
      note: after.note
      kind: after.kind
      tags: after.tags
      attrs: after.attrs
      blob: after.blob
      flag: after.flag
      day: after.day
      code: after.note
  - name: ThingNoted
    schema: schemas/ThingNoted.avsc
    topic: acc.things
    when: op == "u"
    key: string(after.id) + "/" + after.region
    fields:
      id: after.id
      region: after.region
      note: after.note
  - name: ThingDeleted
    schema: schemas/ThingDeleted.avsc
    topic: acc.things
    when: op == "d"
    key: string(before.id) + "/" + before.region
    fields:
      id: before.id
      region: before.region
`;

const SINK = (url: string, extra = "") => `sink: acc
pipeline: changecast.yaml
target:
  url: ${url}
${extra}projections:
  - type: io.acc.ThingSaved
    table: things
    action: upsert
    key:
      id: event.id
      region: event.region
    columns:
      price: event.price
      at: event.at
      note: event.note
      kind: event.kind
      tags: event.tags
      attrs: event.attrs
      blob: event.blob
      flag: event.flag
      day: event.day
      code: event.code
  - type: io.acc.ThingNoted
    table: things
    action: update
    key:
      id: event.id
      region: event.region
    columns:
      noted: event.note
  - type: io.acc.ThingDeleted
    table: things
    action: delete
    key:
      id: event.id
      region: event.region
  - type: io.acc.ThingSaved
    table: large_things
    action: upsert
    when: event.kind == "LARGE"
    key:
      id: event.id
    columns:
      price: event.price
`;

interface Row {
  id: number;
  region: string;
  price: string;
  at: string;
  note: string | null;
  kind: "SMALL" | "LARGE";
  tags: string[];
  attrs: Record<string, string>;
  blob: string;
  flag: boolean;
  day: string;
}

function row(id: number, region: string, over: Partial<Row> = {}): Row {
  return {
    id,
    region,
    price: "1.0000",
    at: "2024-03-15T10:05:11.123456Z",
    note: null,
    kind: "SMALL",
    tags: ["a", "b"],
    attrs: { x: "1" },
    blob: "AAEC",
    flag: true,
    day: "2024-03-15",
    ...over,
  };
}

/** A capture stream of public.things: Debezium change records as kcat prints them (schemaless JSON). */
class Captures {
  lines: string[] = [];
  constructor(private readonly path: string) {}
  change(op: "c" | "u" | "d", before: Row | null, after: Row | null, lsn: number): void {
    const offset = this.lines.length;
    const ts = 1710000000000 + lsn;
    const source = {
      version: "3.6.1.Final",
      connector: "postgresql",
      name: "srv",
      ts_ms: ts,
      snapshot: "false",
      db: "db",
      schema: "public",
      table: "things",
      txId: lsn,
      lsn,
    };
    const r = (after ?? before)!;
    this.lines.push(
      JSON.stringify({
        topic: "srv.public.things",
        partition: 0,
        offset,
        ts,
        headers: [],
        key: JSON.stringify({ id: r.id, region: r.region }),
        payload: JSON.stringify({ before, after, source, op, ts_ms: ts }),
      }),
    );
  }
  /** the line at `index` delivered again (a connector restart), at the next offset */
  redeliver(index: number): void {
    const l = JSON.parse(this.lines[index]!) as { offset: number };
    l.offset = this.lines.length;
    this.lines.push(JSON.stringify(l));
  }
  flush(): void {
    writeFileSync(this.path, this.lines.map((l) => l + "\n").join(""));
  }
}

function project(sinkText: string): { dir: string; captures: Captures } {
  const dir = mkdtempSync(join(tmpdir(), "changecast-sink-acc-"));
  const files: Record<string, string> = {
    "changecast.yaml": PIPELINE,
    "schemas/ThingSaved.avsc": JSON.stringify(THING_SAVED, null, 2),
    "schemas/ThingNoted.avsc": JSON.stringify(THING_NOTED, null, 2),
    "schemas/ThingDeleted.avsc": JSON.stringify(THING_DELETED, null, 2),
    "transforms/things.yaml": TRANSFORM,
    "changecast.sink.yaml": sinkText,
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(join(dir, "captures"));
  return { dir, captures: new Captures(join(dir, "captures", "things.jsonl")) };
}

function run(dir: string): void {
  const r = cli(dir, "run", "--config", "changecast.yaml");
  expect(r.err + r.out).toContain("dead letters: 0");
  expect(r.code).toBe(0);
}

function sink(dir: string, ...extra: string[]): { code: number; out: string; err: string } {
  return cli(dir, "sink", "--config", "changecast.sink.yaml", ...extra);
}

function count(out: string, what: RegExp): number {
  const m = what.exec(out);
  if (!m) throw new Error(`${String(what)} not in:\n${out}`);
  return Number(m[1]);
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The stream every target gets: keys interleaved, a re-delivery, an older change late, a delete and re-create. */
function stream(c: Captures): void {
  c.change("c", null, row(1, "eu", { price: "12345678.1234", note: "n1" }), 1000);
  c.change("c", null, row(1, "us", { price: "0.0001", kind: "LARGE" }), 1010); // same id, other region
  c.change("c", null, row(2, "eu", { price: "-5.5000", note: "two", flag: false }), 1020);
  c.change("u", row(1, "eu"), row(1, "eu", { price: "99999999.9999", note: "n2" }), 1100); // 2 events
  c.redeliver(3); // the same change again: the same ce_ids
  c.change("d", row(2, "eu"), null, 1200);
  c.redeliver(0); // an old registration after the row moved on
  c.change(
    "c",
    null,
    row(2, "eu", { price: "7.0700", note: "back", at: "2024-12-31T23:59:59.999999Z" }),
    1300,
  );
  c.redeliver(5); // the delete again, after the re-create
  c.change("u", row(1, "us"), row(1, "us", { note: "late", kind: "LARGE", price: "3.1400" }), 1400);
  c.flush();
}

async function things(knex: Knex): Promise<Record<string, unknown>[]> {
  return (await knex("things").select("*").orderBy(["id", "region"])) as Record<string, unknown>[];
}

describe("changecast sink acceptance (embedded → SQLite)", () => {
  it("applies each fact once per key: re-deliveries and older events skipped, delete then re-create, exact types", async () => {
    const p = project(SINK("sqlite:.changecast/sink.sqlite"));
    stream(p.captures);
    run(p.dir);
    const r = sink(p.dir);
    expect(r.code).toBe(0);
    expect(count(r.out, /records read: (\d+)/)).toBe(13);
    expect(count(r.out, /dead letters: (\d+)/)).toBe(0);
    // re-delivery of the update (2 events), the old registration, the delete after the re-create
    expect(count(r.out, /skipped: (\d+) already applied/)).toBe(4);
    expect(count(r.out, /(\d+) by when/)).toBe(6); // large_things: the SMALL ones
    const knex = connect("sqlite:.changecast/sink.sqlite", p.dir);
    cleanups.push(() => knex.destroy());
    const rows = await things(knex);
    expect(rows.map((x) => [x.id, x.region, x.price, x.note, x.noted, x.changecast_applied])).toEqual([
      [1, "eu", "99999999.9999", "n2", "n2", 3],
      [1, "us", "3.1400", "late", "late", 3],
      [2, "eu", "7.0700", "back", null, 3],
    ]);
    const one = rows[0]!;
    expect(one.at).toBe("2024-03-15T10:05:11.123456Z");
    expect(one.day).toBe("2024-03-15");
    expect(one.kind).toBe("SMALL");
    expect(JSON.parse(String(one.tags))).toEqual(["a", "b"]);
    expect(JSON.parse(String(one.attrs))).toEqual({ x: "1" });
    // a union of several types is JSON text: a string in it too
    expect(JSON.parse(String(one.code))).toBe("n2");
    expect(Buffer.from(one.blob as Uint8Array).toString()).toBe("AAEC");
    expect(rows[2]!.at).toBe("2024-12-31T23:59:59.999999Z");
    expect((await knex("large_things").select("id", "price")) as unknown[]).toEqual([
      { id: 1, price: "3.1400" },
    ]);

    // restart: nothing applied again; new changes of the same stream apply
    const again = sink(p.dir);
    expect(again.code).toBe(0);
    expect(count(again.out, /records read: (\d+)/)).toBe(0);
    p.captures.redeliver(7); // the re-create again
    p.captures.change("u", row(2, "eu"), row(2, "eu", { note: "after restart" }), 1500);
    p.captures.flush();
    run(p.dir);
    const third = sink(p.dir);
    expect(count(third.out, /records read: (\d+)/)).toBe(3);
    expect(count(third.out, /skipped: (\d+) already applied/)).toBe(1);
    const after = await things(knex);
    expect(after.map((x) => [x.id, x.region, x.note, x.noted, x.changecast_applied])).toEqual([
      [1, "eu", "n2", "n2", 3],
      [1, "us", "late", "late", 3],
      [2, "eu", "after restart", "after restart", 5],
    ]);
  });
});

describe("changecast sink acceptance (embedded → Postgres)", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
    cleanups.push(() => pg.stop());
  }, 120_000);

  it("the same stream gives the same rows, with the column types of the Avro fields, exactly", async () => {
    const p = project(SINK(pg.url));
    stream(p.captures);
    run(p.dir);
    const r = sink(p.dir);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(count(r.out, /records read: (\d+)/)).toBe(13);
    expect(count(r.out, /skipped: (\d+) already applied/)).toBe(4);
    const knex = connect(pg.url, p.dir);
    cleanups.push(() => knex.destroy());
    const types = (await knex.raw(
      `select column_name, data_type, numeric_precision, numeric_scale, is_nullable, datetime_precision
         from information_schema.columns where table_name = 'things' order by column_name`,
    )) as { rows: Record<string, unknown>[] };
    const t = Object.fromEntries(types.rows.map((x) => [x.column_name, x]));
    expect(t.id).toMatchObject({ data_type: "bigint", is_nullable: "NO" });
    expect(t.region).toMatchObject({ data_type: "text", is_nullable: "NO" });
    expect(t.price).toMatchObject({ data_type: "numeric", numeric_precision: 12, numeric_scale: 4 });
    expect(t.at).toMatchObject({ data_type: "timestamp with time zone", datetime_precision: 6 });
    expect(t.note).toMatchObject({ data_type: "text", is_nullable: "YES" });
    expect(t.kind!.data_type).toBe("text");
    expect(t.tags!.data_type).toBe("jsonb");
    expect(t.attrs!.data_type).toBe("jsonb");
    expect(t.blob!.data_type).toBe("bytea");
    expect(t.flag!.data_type).toBe("boolean");
    expect(t.day!.data_type).toBe("date");
    const rows = (
      await knex.raw(
        `select id, region, price::text as price, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as at,
                note, noted, kind, tags, attrs, code, encode(blob, 'escape') as blob, flag, day::text as day, changecast_applied
           from things order by id, region`,
      )
    ).rows as Record<string, unknown>[];
    expect(rows.map((x) => [x.id, x.region, x.price, x.note, x.noted, String(x.changecast_applied)])).toEqual(
      [
        ["1", "eu", "99999999.9999", "n2", "n2", "3"],
        ["1", "us", "3.1400", "late", "late", "3"],
        ["2", "eu", "7.0700", "back", null, "3"],
      ],
    );
    expect(rows[0]).toMatchObject({
      at: "2024-03-15T10:05:11.123456",
      kind: "SMALL",
      tags: ["a", "b"],
      attrs: { x: "1" },
      code: "n2",
      blob: "AAEC",
      flag: true,
      day: "2024-03-15",
    });
    expect(rows[2]!.at).toBe("2024-12-31T23:59:59.999999");
    expect(rows[1]!.flag).toBe(true);
    expect(count(sink(p.dir).out, /records read: (\d+)/)).toBe(0);
  });
});

// Postgres keeps identifiers up to 63 bytes: the longest name that means the same in both targets
const LONG = "a_column_name_that_is_as_long_as_postgres_allows_identifiers_xy";
const HOSTILE = (url: string) => `sink: select
pipeline: changecast.yaml
target:
  url: ${url}
projections:
  - type: io.acc.ThingSaved
    table: constructor
    action: upsert
    key:
      select: event.id
      "__proto__": event.region
    columns:
      "toString": event.note
      "from": event.price
      ${LONG}: event.kind
  - type: io.acc.ThingDeleted
    table: constructor
    action: delete
    key:
      select: event.id
      "__proto__": event.region
  - type: io.acc.ThingNoted
    table: "order"
    action: upsert
    key:
      "group": event.id
    columns:
      "hasOwnProperty": event.note
`;

async function hostile(url: string, knexOf: (dir: string) => Knex): Promise<void> {
  const p = project(HOSTILE(url));
  stream(p.captures);
  run(p.dir);
  const c = cli(p.dir, "check", "--config", "changecast.yaml", "--sink", "changecast.sink.yaml");
  expect(c.err).toBe("");
  expect(c.code).toBe(0);
  const r = sink(p.dir);
  expect(r.err).not.toMatch(/Error/);
  expect(r.code).toBe(0);
  expect(count(r.out, /dead letters: (\d+)/)).toBe(0);
  const knex = knexOf(p.dir);
  cleanups.push(() => knex.destroy());
  const rows = (await knex("constructor").select("*").orderBy(["select", "__proto__"])) as Record<
    string,
    unknown
  >[];
  expect(rows.map((x) => [String(x.select), x.__proto__, x.toString, String(x.from), x[LONG]])).toEqual([
    ["1", "eu", "n2", "99999999.9999", "SMALL"],
    ["1", "us", "late", "3.1400", "LARGE"],
    ["2", "eu", "back", "7.0700", "SMALL"],
  ]);
  const orders = (await knex("order").select("*").orderBy("group")) as Record<string, unknown>[];
  expect(orders.map((x) => [String(x.group), x.hasOwnProperty])).toEqual([["1", "late"]]);
  expect(count(sink(p.dir).out, /records read: (\d+)/)).toBe(0);
}

const BY_TIME = `  - type: io.acc.ThingSaved
    table: by_time
    key:
      id: event.id
      region: event.region
      day: event.day
      at: event.at
    columns:
      price: event.price
`;

describe("changecast sink acceptance: keys of dates and timestamps", () => {
  it.each([["sqlite"], ["postgres"]])(
    "%s: a row keyed by a date and a microsecond timestamp is found again (re-deliveries skipped, counts kept)",
    async (target) => {
      let url = "sqlite:.changecast/sink.sqlite";
      if (target === "postgres") {
        const pg = await startPostgres();
        cleanups.push(() => pg.stop());
        url = pg.url;
      }
      const p = project(SINK(url) + BY_TIME);
      stream(p.captures);
      run(p.dir);
      const r = sink(p.dir);
      expect(r.code, r.err).toBe(0);
      expect(count(r.out, /dead letters: (\d+)/)).toBe(0);
      const knex = connect(url, p.dir);
      cleanups.push(() => knex.destroy());
      const rows = (await knex("by_time").select("id", "region", "price", "changecast_applied")) as Record<
        string,
        unknown
      >[];
      expect(
        rows.map((x) => [Number(x.id), x.region, String(x.price), Number(x.changecast_applied)]).sort(),
      ).toEqual(
        [
          [1, "eu", "99999999.9999", 2],
          [1, "us", "3.1400", 2],
          [2, "eu", "-5.5000", 1],
          [2, "eu", "7.0700", 1],
        ].sort(),
      );
    },
    120_000,
  );
});

describe("changecast sink acceptance: a declared decimal narrower than the value", () => {
  it("Postgres: a value with more fraction digits than the declared scale is dead-lettered, not rounded", async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const p = project(
      `sink: acc
pipeline: changecast.yaml
target:
  url: ${pg.url}
tables:
  cents:
    columns:
      price: decimal(14,2)
projections:
  - type: io.acc.ThingSaved
    table: cents
    key:
      id: event.id
      region: event.region
    columns:
      price: event.price
`,
    );
    stream(p.captures);
    run(p.dir);
    const r = sink(p.dir);
    expect(r.code, r.err).toBe(0);
    const knex = connect(pg.url, p.dir);
    cleanups.push(() => knex.destroy());
    const rows = (await knex.raw("select id, region, price::text as price from cents order by 1, 2"))
      .rows as Record<string, unknown>[];
    // 12345678.1234, 99999999.9999 (each delivered twice) and 0.0001 do not fit two decimals; 3.1400, -5.5000,
    // 7.0700 do
    expect(rows.map((x) => [x.id, x.region, x.price])).toEqual([
      ["1", "us", "3.14"],
      ["2", "eu", "7.07"],
    ]);
    const dead = letters(p.dir);
    expect(dead.map((l) => [l.key, l.headers.changecast_error_code])).toEqual([
      ["1/eu", "SINK_PROJECT"],
      ["1/us", "SINK_PROJECT"],
      ["1/eu", "SINK_PROJECT"],
      ["1/eu", "SINK_PROJECT"],
      ["1/eu", "SINK_PROJECT"],
    ]);
    expect(dead[0]!.headers["__connect.errors.exception.message"]).toMatch(/12345678\.1234.*decimal\(14,2\)/);
  }, 120_000);
});

describe("changecast sink acceptance: hostile names", () => {
  it("SQLite: table constructor, columns __proto__, toString, SQL keywords, a 63-character name", async () => {
    await hostile("sqlite:.changecast/sink.sqlite", (dir) => connect("sqlite:.changecast/sink.sqlite", dir));
  });
  it("Postgres: the same names", async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    await hostile(pg.url, (dir) => connect(pg.url, dir));
  }, 120_000);
});

describe("changecast sink acceptance: check on bad sink files", () => {
  const bad = (lines: string[]) => {
    const p = project(
      [
        "sink: acc",
        "pipeline: changecast.yaml",
        "target:",
        "  url: sqlite:.changecast/sink.sqlite",
        ...lines,
        "",
      ].join("\n"),
    );
    p.captures.change("c", null, row(1, "eu"), 1000);
    p.captures.flush();
    const r = cli(p.dir, "check", "--config", "changecast.yaml", "--sink", "changecast.sink.yaml");
    return { ...r, file: join(p.dir, "changecast.sink.yaml") };
  };
  const projection = (table: string, key: string, columns: string[] = [], extra: string[] = []) => [
    "  - type: io.acc.ThingSaved",
    `    table: ${table}`,
    ...extra,
    "    key:",
    `      ${key}`,
    ...(columns.length ? ["    columns:", ...columns.map((c) => `      ${c}`)] : []),
  ];

  it.each([
    [
      "an unknown event type",
      ["projections:", "  - type: io.acc.Nope", "    table: t", "    key:", "      id: event.id"],
      6,
      /io\.acc\.Nope/,
    ],
    [
      "a CEL syntax error",
      ["projections:", ...projection("t", "id: event.id", ["price: event.price +"])],
      11,
      /columns\.price/,
    ],
    ["a field the event does not have", ["projections:", ...projection("t", "id: event.nope")], 9, /nope/],
    [
      "a non-boolean when",
      ["projections:", ...projection("t", "id: event.id", [], ["    when: event.region"])],
      8,
      /when/,
    ],
    [
      "a bad action",
      ["projections:", ...projection("t", "id: event.id", [], ["    action: merge"])],
      8,
      /action/,
    ],
    [
      "a quoted column name",
      ["projections:", ...projection("t", "id: event.id", ['"we\\"ird": event.note'])],
      11,
      /we"ird/,
    ],
    [
      "a 64-character column name",
      ["projections:", ...projection("t", "id: event.id", [`${"c".repeat(64)}: event.note`])],
      11,
      /c{64}/,
    ],
    [
      "a 64-character table name",
      ["projections:", ...projection("t".repeat(64), "id: event.id")],
      7,
      /t{64}/,
    ],
    [
      "a table of the sink's own",
      ["projections:", ...projection("changecast_sink_positions", "id: event.id")],
      7,
      /changecast_sink_positions/,
    ],
    [
      "an unknown declared type",
      [
        "tables:",
        "  t:",
        "    columns:",
        "      c: varchar",
        "projections:",
        ...projection("t", "id: event.id", ['c: "x"']),
      ],
      8,
      /varchar/,
    ],
    [
      "an undeclared computed column",
      ["projections:", ...projection("t", "id: event.id", ['c: event.note + "!"'])],
      11,
      /c/,
    ],
    [
      "tolerance maybe",
      ["errors:", "  tolerance: maybe", "projections:", ...projection("t", "id: event.id")],
      6,
      /tolerance/,
    ],
  ] as [string, string[], number, RegExp][])("%s: file:line and exit 1", (_what, lines, line, message) => {
    const r = bad(lines);
    expect(r.code).toBe(1);
    const at = (r.err + r.out).split("\n").find((l) => l.startsWith(`${r.file}:${line}:`));
    expect(at, r.err + r.out).toBeDefined();
    expect(at).toMatch(message);
  });
});

// things with a CHECK its rows may break and an integer column a computed value may not fit; by_note keyed by a
// nullable field
const BAD_SINK = (url: string, extra = "") => `sink: acc
pipeline: changecast.yaml
target:
  url: ${url}
${extra}tables:
  things:
    columns:
      len: integer
projections:
  - type: io.acc.ThingSaved
    table: things
    key:
      id: event.id
      region: event.region
    columns:
      price: event.price
      note: event.note
      len: 'event.note == "late" ? "x" : "1"'
  - type: io.acc.ThingNoted
    table: things
    action: update
    key:
      id: event.id
      region: event.region
    columns:
      noted: event.note
  - type: io.acc.ThingDeleted
    table: things
    action: delete
    key:
      id: event.id
      region: event.region
  - type: io.acc.ThingSaved
    table: by_note
    key:
      note: event.note
    columns:
      id: event.id
`;

interface Letter {
  topic: string;
  key: string;
  headers: Record<string, string>;
}

function letters(dir: string): Letter[] {
  const path = join(dir, ".changecast", "out", "changecast-sink-acc.dlq.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Letter);
}

describe("changecast sink acceptance: bad events", () => {
  it("Postgres: a null key, a constraint violation and a value its column refuses are dead-lettered with their reason, the rest applied", async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const p = project(BAD_SINK(pg.url));
    stream(p.captures);
    run(p.dir);
    const knex = connect(pg.url, p.dir);
    cleanups.push(() => knex.destroy());
    await knex.raw(`create table things (id bigint not null, region text not null,
      price numeric(12,4) constraint price_not_negative check (price >= 0), note text, noted text, len integer,
      primary key (id, region))`);
    const r = sink(p.dir);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dead letters: 3 \(.*SINK_APPLY: 2.*\)/);
    expect(r.out).toMatch(/dead letters: 3 \(.*SINK_PROJECT: 1.*\)/);
    expect(count(r.out, /parked: (\d+)/)).toBe(1); // the note of 1/us, whose row was refused
    const dead = letters(p.dir);
    expect(
      dead.map((l) => [l.key, l.headers.changecast_error_code, l.headers["__connect.errors.offset"]]),
    ).toEqual([
      ["1/us", "SINK_PROJECT", "1"],
      ["2/eu", "SINK_APPLY", "2"],
      ["1/us", "SINK_APPLY", "11"],
    ]);
    const message = (i: number) => dead[i]!.headers["__connect.errors.exception.message"];
    expect(message(0)).toMatch(/key\.note.*null/);
    expect(message(1)).toMatch(/price_not_negative/);
    expect(message(2)).toMatch(/integer/);
    for (const l of dead) {
      expect(l.headers["__connect.errors.topic"]).toBe("acc.things");
      expect(l.headers["__connect.errors.stage"]).toBe("SINK");
      expect(l.headers.ce_type).toBe("io.acc.ThingSaved");
    }
    const rows = (
      await knex.raw(
        "select id, region, price::text as price, note, noted, changecast_applied from things order by 1, 2",
      )
    ).rows as Record<string, unknown>[];
    expect(rows.map((x) => [x.id, x.region, x.price, x.note, x.noted, String(x.changecast_applied)])).toEqual(
      [
        ["1", "eu", "99999999.9999", "n2", "n2", "3"],
        ["2", "eu", "7.0700", "back", null, "2"],
      ],
    );
    const notes = (await knex("by_note").select("note", "id").orderBy("note")) as Record<string, unknown>[];
    expect(notes.map((x) => [x.note, String(x.id)])).toEqual([
      ["back", "2"],
      ["n1", "1"],
      ["n2", "1"],
    ]);
    // a restart neither re-applies nor dead-letters again
    expect(count(sink(p.dir).out, /records read: (\d+)/)).toBe(0);
    expect(letters(p.dir)).toHaveLength(3);
  }, 120_000);

  it("SQLite: errors.tolerance none stops at the bad event (exit 1) before committing past it, and again on restart", async () => {
    const p = project(BAD_SINK("sqlite:.changecast/sink.sqlite", "errors:\n  tolerance: none\n"));
    stream(p.captures);
    run(p.dir);
    for (let i = 0; i < 2; i++) {
      const r = sink(p.dir);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/acc\.things\[0\]@1 \(SINK_PROJECT/);
    }
    expect(letters(p.dir)).toEqual([]);
    const knex = connect("sqlite:.changecast/sink.sqlite", p.dir);
    cleanups.push(() => knex.destroy());
    const positions = (await knex("changecast_sink_positions").where({ topic: "acc.things" })) as {
      next_offset: string;
    }[];
    expect(Number(positions[0]?.next_offset ?? 0)).toBeLessThanOrEqual(1);
    // what was committed before it, once
    const rows = (await knex("things").select("id", "region", "changecast_applied")) as Record<
      string,
      unknown
    >[];
    expect(rows.filter((x) => Number(x.changecast_applied) > 1)).toEqual([]);
  });
});

describe("changecast sink acceptance: a migration (major 1 → 2) into Postgres", () => {
  it("a sink that lagged through the overlap is switched, reads re-deliveries on both majors, applies every fact once", async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const m = migrationProject();
    const sinkFile = join(m.dir, "changecast.sink.yaml");
    writeFileSync(
      sinkFile,
      `sink: crm
pipeline: changecast.yaml
target:
  url: ${pg.url}
batch:
  maxEvents: 4
tables:
  customers:
    columns:
      customer_id: bigint
projections:
  - type: io.example.customer.CustomerRegistered
    table: customers
    key:
      customer_id: int(event.customerId)
    columns:
      email: event.email
      first_name: event.firstName
  - type: io.example.customer.CustomerEmailChanged
    table: customers
    action: update
    key:
      customer_id: event.customerId
    columns:
      email: event.email
`,
    );
    const go = (...args: string[]) => {
      const r = cli(
        m.dir,
        ...args,
        "--config",
        args[0] === "run" || args[0] === "migrate" ? m.config : sinkFile,
      );
      expect(r.code, r.out + r.err).toBe(0);
      return r.out + r.err;
    };
    const lines = () =>
      readFileSync(m.source, "utf8")
        .split("\n")
        .filter((l) => l.trim());
    const redeliver = (match: (payload: string) => boolean) => {
      const all = lines();
      const again = all
        .filter((l) => match(l))
        .map((l, i) => {
          const x = JSON.parse(l) as { offset: number };
          x.offset = 100_000 + all.length + i;
          return JSON.stringify(x);
        });
      expect(again.length).toBeGreaterThan(0);
      appendFileSync(m.source, again.map((l) => l + "\n").join(""));
    };

    appendChanges(m, 1, 20);
    go("run");
    expect(go("sink")).toContain("table customers: 20 rows");

    go("migrate", "start", "--event", "CustomerRegistered");
    appendChanges(m, 21, 10);
    go("run");
    // the sink does not run here: everything of the overlap is ahead of it at the switch
    go("migrate", "backfill", "--event", "CustomerRegistered");
    const switched = go("sink", "switch", "--event", "CustomerRegistered");
    expect(switched).toContain("reads inventory.customer-events.v2");

    // Debezium re-delivers a stretch of the overlap (registrations on both majors, e-mail changes), then goes on
    redeliver((l) => /"id\\":2[4-9],/.test(l) || /"id\\":2[4-9]}/.test(l));
    appendChanges(m, 31, 10);
    go("run");
    const after = go("sink");
    // the re-delivered registrations of 24..29 (read on major 2) and e-mail changes of 26 and 29
    expect(after).toMatch(
      /skipped: 8 already applied \(position\), 0 by when, 0 without projection, [1-9]\d* by the switch filter/,
    );
    expect(after).toContain("dead letters: 0");
    expect(after).toContain("table customers: 40 rows");
    const knex = connect(pg.url, m.dir);
    cleanups.push(() => knex.destroy());
    const rows = (await knex("customers").orderBy("customer_id")) as Record<string, unknown>[];
    expect(rows.map((r) => Number(r.customer_id))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    for (const r of rows) {
      const id = Number(r.customer_id);
      const updated = (id + 1) % 3 === 0 && id + 1 <= 40;
      expect(r.first_name).toBe(`First${id}`);
      expect(r.email).toBe(updated ? `c${id}.new@example.com` : `c${id}@example.com`);
      expect(Number(r.changecast_applied), `customer ${id}`).toBe(updated ? 2 : 1);
    }
    expect(go("sink")).toContain("records read: 0");
  }, 300_000);
});

describe("changecast sink acceptance: Kafka (mock cluster) through the registry", () => {
  it("records produced by hand — duplicates, an older one late, keys on several partitions, undecodable ones — apply once each", async () => {
    const registryDir = mkdtempSync(join(tmpdir(), "changecast-acc-registry-"));
    const registry = await runRegistryServe({
      port: 0,
      stateUrl: `sqlite:${join(registryDir, "registry.sqlite")}`,
      baseDir: registryDir,
    });
    cleanups.push(() => registry.close());
    const mock = await startMockKafka({ brokers: 1 });
    cleanups.push(() => mock.stop());
    const p = project(`sink: acc
pipeline: changecast.yaml
target:
  url: sqlite:.changecast/sink.sqlite
batch:
  maxEvents: 3
projections:
  - type: io.acc.ThingNoted
    table: notes
    key:
      id: event.id
      region: event.region
    columns:
      note: event.note
  - type: io.acc.ThingDeleted
    table: notes
    action: delete
    key:
      id: event.id
      region: event.region
`);
    writeFileSync(
      join(p.dir, "changecast.yaml"),
      PIPELINE.replace(
        "registry:\n",
        `kafka:\n  brokers: '${mock.bootstrap}'\nregistry:\n  url: '${registry.url}'\n`,
      ),
    );
    const register = async (schema: object, subject: string): Promise<number> => {
      const r = await fetch(`${registry.url}/subjects/${subject}/versions`, {
        method: "POST",
        headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
      expect(r.status).toBe(200);
      return ((await r.json()) as { id: number }).id;
    };
    const noted = await register(THING_NOTED, "acc.things-io.acc.ThingNoted");
    const deleted = await register(THING_DELETED, "acc.things-io.acc.ThingDeleted");
    const wire = (id: number, schema: object, value: object) => {
      const head = Buffer.alloc(5);
      head.writeInt32BE(id, 1);
      return Buffer.concat([head, avro.Type.forSchema(schema as avro.Schema).toBuffer(value)]);
    };
    let n = 0;
    const event = (
      partition: number,
      id: number,
      position: number,
      body: { note?: string | null; deleted?: true },
      ceId = `00000000-0000-8000-8000-${String(++n).padStart(12, "0")}`,
    ) => ({
      partition,
      key: `${id}/eu`,
      value: body.deleted
        ? wire(deleted, THING_DELETED, { id, region: "eu" })
        : wire(noted, THING_NOTED, { id, region: "eu", note: body.note ?? null }),
      headers: {
        ce_specversion: "1.0",
        ce_id: ceId,
        ce_type: body.deleted ? "io.acc.ThingDeleted" : "io.acc.ThingNoted",
        ce_source: "changecast/acc/public.things",
        "content-type": "application/avro",
        changecast_position: `postgresql:${position}:${position}:0`,
      },
    });
    const a2 = event(0, 1, 200, { note: "a2" });
    const messages = [
      event(0, 1, 100, { note: "a1" }),
      event(1, 2, 110, { note: "b1" }),
      a2,
      { ...a2 }, // the same record again (at least once)
      { partition: 2, key: "3/eu", value: Buffer.from("not the wire format"), headers: a2.headers },
      event(1, 2, 210, { note: "b2" }),
      event(0, 1, 150, { note: "stale" }), // older than the row, another change
      {
        ...event(2, 3, 120, { note: "c0" }),
        value: wire(9999, THING_NOTED, { id: 3, region: "eu", note: "x" }),
      },
      event(0, 1, 300, { deleted: true }),
      event(2, 3, 120, { note: "c1" }),
      event(1, 2, 110, { note: "b1" }, "00000000-0000-8000-8000-000000000002"), // b1 again, after b2
      event(0, 1, 400, { note: "a3" }), // re-created
      event(0, 1, 200, { note: "a2" }, a2.headers.ce_id), // the old a2 again, after the delete
    ];
    await mock.createTopic("acc.things", 3);
    const kafka = quietKafka(mock.brokers);
    await withProducer(kafka, async (producer) => {
      for (const m of messages) await producer.send({ topic: "acc.things", messages: [m], acks: -1 });
    });
    const r = await cliAsync(p.dir, "sink", "--config", "changecast.sink.yaml", "--idle-exit", "4");
    expect(r.code, r.err).toBe(0);
    expect(count(r.out, /records read: (\d+)/)).toBe(13);
    expect(r.out).toMatch(/dead letters: 2 \(SINK_DECODE: 2\)/);
    expect(count(r.out, /skipped: (\d+) already applied/)).toBe(4);
    const knex = connect("sqlite:.changecast/sink.sqlite", p.dir);
    cleanups.push(() => knex.destroy());
    const rows = (await knex("notes").select("id", "note", "changecast_applied").orderBy("id")) as Record<
      string,
      unknown
    >[];
    expect(rows.map((x) => [Number(x.id), x.note, Number(x.changecast_applied)])).toEqual([
      [1, "a3", 4],
      [2, "b2", 2],
      [3, "c1", 1],
    ]);
    const dead = await consumeUntil(kafka, ["changecast-sink-acc.dlq"], (all) => all.length >= 2);
    expect(
      dead.map((d) => [d.key, d.headers.changecast_error_code, d.headers["__connect.errors.partition"]]),
    ).toEqual([
      ["3/eu", "SINK_DECODE", "2"],
      ["3/eu", "SINK_DECODE", "2"],
    ]);
    expect(dead[1]!.headers["__connect.errors.exception.message"]).toMatch(/9999/);
    // restarted: nothing read again
    const again = await cliAsync(p.dir, "sink", "--config", "changecast.sink.yaml", "--idle-exit", "3");
    expect(count(again.out, /records read: (\d+)/)).toBe(0);
  }, 180_000);
});
