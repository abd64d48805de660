// `state: rows` through `changecast replay` on the Debezium fixtures: TOAST/LOB columns filled from the previous
// image, before-images supplied under REPLICA IDENTITY DEFAULT, lookup() by primary key, composite key and index,
// and primary-key changes (keyChange).
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { replayCommand } from "../../src/cli/replay.js";
import { fixtureLine, kcatLine, tempProject } from "../support/project.js";

async function replay(dir: string, lines: string[]) {
  const stream = new PassThrough();
  stream.end(lines.join("\n") + "\n");
  const out: string[] = [];
  const err: string[] = [];
  const code = await replayCommand(
    { config: join(dir, "changecast.yaml"), input: "-" },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    stream,
  );
  return {
    code,
    out: out.map((l) => JSON.parse(l) as { topic: string; key: string; value: Record<string, unknown> }),
    err,
  };
}

function config(prefix: string, connector: string, files: string[]): string {
  return `pipeline: statetest\nsource: { connector: ${connector}, topicPrefix: ${prefix} }\ntransforms: [${files.join(", ")}]\n`;
}

/** A fixture record with its payload changed by `edit` (op, after, source position …). */
function edited(
  flavour: "postgres" | "oracle",
  base: string,
  offset: number,
  edit: (payload: Record<string, unknown>) => void,
): string {
  const line = JSON.parse(fixtureLine(flavour, base, offset)) as { payload: string };
  const value = JSON.parse(line.payload) as { payload: Record<string, unknown> };
  edit(value.payload);
  return JSON.stringify({ ...line, payload: JSON.stringify(value) });
}

const record = (name: string, fields: object[]) => ({ type: "record", name, namespace: "io.test", fields });

describe("state: rows — TOAST / LOB fill", () => {
  const documentChanged = record("DocumentChanged", [
    { name: "id", type: "long" },
    { name: "title", type: "string" },
    { name: "body", type: "string" },
    { name: "content", type: "bytes" },
    { name: "tags", type: { type: "array", items: "string" } },
    { name: "scores", type: { type: "array", items: "int" } },
    { name: "channel", type: ["null", "string"], default: null },
    { name: "previousTitle", type: ["null", "string"], default: null },
    { name: "changedColumns", type: { type: "array", items: "string" } },
  ]);
  const transform = (state: boolean) =>
    [
      "table: inventory.documents",
      ...(state ? ["state: rows"] : []),
      "events:",
      "  - name: DocumentChanged",
      "    schema: DocumentChanged.avsc",
      "    topic: documents",
      '    when: op == "u"',
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      "      title: after.title",
      "      body: after.body",
      "      content: after.content",
      "      tags: after.tags",
      "      scores: after.scores",
      "      channel: after.attributes.channel",
      "      previousTitle: 'before == null ? null : before.title'",
      "      changedColumns: changed",
    ].join("\n");
  // the row as a snapshot read before the update of fixture 13 (the same table, a smaller LSN)
  const snapshot = edited("postgres", "13-update-unchanged-toast-columns", 1, (p) => {
    p.op = "r";
    p.after = {
      id: 1,
      title: "Quarterly report",
      body: "A long body",
      attributes: '{"channel": "web"}',
      tags: ["finance", "q1"],
      content: Buffer.from("PDF").toString("base64"),
      scores: [7, 8],
    };
    (p.source as Record<string, unknown>).lsn = 34083000;
    (p.source as Record<string, unknown>).snapshot = "true";
  });
  const update = fixtureLine("postgres", "13-update-unchanged-toast-columns", 2);

  it("fills every placeholder form (text, json, text[], bytea, int[]) from the previous image", async () => {
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["t.yaml"]),
      "DocumentChanged.avsc": documentChanged,
      "t.yaml": transform(true),
    });
    const { code, out, err } = await replay(dir, [snapshot, update]);
    expect(err.filter((l) => l.includes("dead letter:"))).toEqual([]);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]!.value).toEqual({
      id: 1,
      title: "Quarterly report v2",
      body: "A long body",
      content: Buffer.from("PDF").toString("base64"),
      tags: ["finance", "q1"],
      scores: [7, 8],
      channel: "web",
      // REPLICA IDENTITY DEFAULT sends no before-image: the previous image is it
      previousTitle: "Quarterly report",
      changedColumns: ["title"],
    });
  });

  it("without a previous image the placeholder stays a mapping error (dead letter), as without state", async () => {
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["t.yaml"]),
      "DocumentChanged.avsc": documentChanged,
      "t.yaml": transform(true),
    });
    const { out } = await replay(dir, [update]);
    expect(out).toHaveLength(1);
    expect(out[0]!.topic).not.toBe("documents");
  });

  it("fills Oracle LOBs (CLOB and BLOB placeholders in before and after)", async () => {
    const created = edited("oracle", "10-update-unchanged-lob-columns", 1, (p) => {
      p.op = "c";
      p.before = null;
      p.after = {
        ID: 1,
        TITLE: "Quarterly report",
        BODY: "CLOB text",
        CONTENT: Buffer.from([1, 2, 3]).toString("base64"),
      };
      const source = p.source as Record<string, unknown>;
      source.scn = "2127000";
      source.commit_scn = "2127001";
    });
    const dir = tempProject({
      "changecast.yaml": config("server1", "oracle", ["t.yaml"]),
      "Doc.avsc": record("Doc", [
        { name: "title", type: "string" },
        { name: "body", type: "string" },
        { name: "content", type: "bytes" },
        { name: "previousBody", type: "string" },
      ]),
      "t.yaml": [
        "table: DEBEZIUM.DOCUMENTS",
        "state: rows",
        "events:",
        "  - name: Doc",
        "    schema: Doc.avsc",
        "    topic: docs",
        '    when: op == "u"',
        "    key: after.ID",
        "    fields: { title: after.TITLE, body: after.BODY, content: after.CONTENT, previousBody: before.BODY }",
      ].join("\n"),
    });
    const { out, err } = await replay(dir, [
      created,
      fixtureLine("oracle", "10-update-unchanged-lob-columns", 2),
    ]);
    expect(err.filter((l) => l.includes("dead letter:"))).toEqual([]);
    expect(out.map((o) => o.value)).toEqual([
      { title: "Quarterly report v2", body: "CLOB text", content: "AQID", previousBody: "CLOB text" },
    ]);
  });
});

describe("state: rows — before-images", () => {
  const customers = record("CustomerChanged", [
    { name: "id", type: "long" },
    { name: "op", type: "string" },
    { name: "previousFirstName", type: ["null", "string"], default: null },
    { name: "previousEmail", type: ["null", "string"], default: null },
    { name: "changedColumns", type: { type: "array", items: "string" } },
  ]);
  const transform = [
    "table: inventory.customers",
    "state: rows",
    "events:",
    "  - name: CustomerChanged",
    "    schema: CustomerChanged.avsc",
    "    topic: customers",
    '    when: op == "u" || op == "d"',
    "    key: key.id",
    "    fields:",
    "      id: key.id",
    "      op: op",
    "      previousFirstName: 'before == null ? null : before.first_name'",
    "      previousEmail: 'before == null ? null : before.email'",
    "      changedColumns: changed",
  ].join("\n");

  it("supplies before on an update and a delete under REPLICA IDENTITY DEFAULT", async () => {
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["t.yaml"]),
      "CustomerChanged.avsc": customers,
      "t.yaml": transform,
    });
    const lines = [
      fixtureLine("postgres", "03-snapshot-read-1003-true", 3),
      fixtureLine("postgres", "04-snapshot-read-1004-last", 4),
      fixtureLine("postgres", "06-update-replica-identity-default", 6),
      fixtureLine("postgres", "07-delete-replica-identity-default", 7),
    ];
    const { out } = await replay(dir, lines);
    expect(out.map((o) => o.value)).toEqual([
      {
        id: 1004,
        op: "u",
        previousFirstName: "Anne",
        previousEmail: "annek@noanswer.org",
        changedColumns: ["first_name"],
      },
      // the delete's before held the key and the converter's fallbacks ("") only
      { id: 1003, op: "d", previousFirstName: "Edward", previousEmail: "ed@walker.com", changedColumns: [] },
    ]);
  });

  it("a delete under REPLICA IDENTITY FULL keeps the before-image Debezium sent", async () => {
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["t.yaml"]),
      "CustomerChanged.avsc": customers,
      "t.yaml": transform,
    });
    const { out } = await replay(dir, [
      fixtureLine("postgres", "05-create", 5),
      fixtureLine("postgres", "10-delete-replica-identity-full", 10),
    ]);
    expect(out.map((o) => o.value)).toEqual([
      {
        id: 1005,
        op: "d",
        previousFirstName: "Jane",
        previousEmail: "jane.doe@example.com",
        changedColumns: [],
      },
    ]);
  });
});

/** A schemaless Postgres change of `table` (Debezium JSON without schemas). */
function change(
  table: string,
  op: string,
  key: Record<string, unknown>,
  after: Record<string, unknown> | null,
  lsn: number,
  headers: string[] = [],
): string {
  const [schema, name] = table.split(".");
  const value = {
    // a delete under REPLICA IDENTITY DEFAULT: the key columns only
    before: op === "d" ? key : null,
    after,
    source: {
      connector: "postgresql",
      name: "dbserver1",
      ts_ms: 1710497000000 + lsn,
      snapshot: "false",
      schema,
      table: name,
      lsn,
      txId: lsn,
    },
    op,
    ts_ms: 1710497000000 + lsn,
  };
  const line = JSON.parse(
    kcatLine(`dbserver1.${table}`, lsn, JSON.stringify(key), JSON.stringify(value)),
  ) as Record<string, unknown>;
  line.headers = headers;
  return JSON.stringify(line);
}

describe("lookup()", () => {
  const files = {
    "changecast.yaml": config("dbserver1", "postgres", ["codes.yaml", "countries.yaml", "orders.yaml"]),
    "codes.yaml": [
      "table: crm.codes",
      "state: rows",
      "index:",
      "  byCode: [after.code_type, after.code]",
      "events: []",
    ].join("\n"),
    "countries.yaml": ["table: crm.countries", "state: rows", "events: []"].join("\n"),
    "Order.avsc": record("OrderSeen", [
      { name: "id", type: "long" },
      { name: "country", type: ["null", "string"], default: null },
      { name: "byKey", type: ["null", "string"], default: null },
      { name: "region", type: ["null", "string"], default: null },
    ]),
    "orders.yaml": [
      "table: crm.orders",
      "events:",
      "  - name: OrderSeen",
      "    schema: Order.avsc",
      "    topic: orders",
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      '      country: \'lookup("crm.codes", ["COUNTRY", after.ctry], "byCode") == null ? null : lookup("crm.codes", ["COUNTRY", after.ctry], "byCode").label\'',
      '      byKey: \'lookup("crm.codes", [after.code_id, "x"]) == null ? null : lookup("crm.codes", [after.code_id, "x"]).label\'',
      '      region: \'lookup("crm.countries", after.ctry) == null ? null : lookup("crm.countries", after.ctry).region\'',
    ].join("\n"),
  };

  it("reads rows by primary key, composite key and index, as they are at each change", async () => {
    const dir = tempProject(files);
    const { out, err } = await replay(dir, [
      change(
        "crm.codes",
        "r",
        { id: 7, v: "x" },
        { id: 7, v: "x", code_type: "COUNTRY", code: "DE", label: "Germany" },
        10,
      ),
      change("crm.countries", "r", { code: "DE" }, { code: "DE", region: "EU" }, 11),
      change("crm.orders", "c", { id: 1 }, { id: 1, ctry: "DE", code_id: 7 }, 20),
      change(
        "crm.codes",
        "u",
        { id: 7, v: "x" },
        { id: 7, v: "x", code_type: "COUNTRY", code: "DE", label: "Deutschland" },
        30,
      ),
      change("crm.countries", "d", { code: "DE" }, null, 31),
      change("crm.orders", "c", { id: 2 }, { id: 2, ctry: "DE", code_id: 7 }, 40),
      change("crm.orders", "c", { id: 3 }, { id: 3, ctry: "FR", code_id: 8 }, 41),
    ]);
    expect(err.filter((l) => l.includes("dead letter:"))).toEqual([]);
    expect(out.map((o) => o.value)).toEqual([
      { id: 1, country: "Germany", byKey: "Germany", region: "EU" },
      { id: 2, country: "Deutschland", byKey: "Deutschland", region: null },
      { id: 3, country: null, byKey: null, region: null },
    ]);
  });
});

describe("keyChange", () => {
  it("is {old, new} on both halves of a primary-key change, and the row state moves to the new key", async () => {
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["t.yaml"]),
      "Moved.avsc": record("Moved", [
        { name: "oldId", type: "long" },
        { name: "newId", type: "long" },
        { name: "body", type: "string" },
      ]),
      "Seen.avsc": record("Seen", [
        { name: "id", type: "long" },
        { name: "body", type: "string" },
      ]),
      "t.yaml": [
        "table: crm.docs",
        "state: rows",
        "events:",
        "  - name: Moved",
        "    schema: Moved.avsc",
        "    topic: moved",
        '    when: keyChange != null && op == "c"',
        "    key: keyChange.new.id",
        "    fields: { oldId: keyChange.old.id, newId: keyChange.new.id, body: after.body }",
        "  - name: Seen",
        "    schema: Seen.avsc",
        "    topic: seen",
        '    when: keyChange == null && op == "u"',
        "    key: after.id",
        "    fields: { id: after.id, body: after.body }",
      ].join("\n"),
    });
    const { out, err } = await replay(dir, [
      change("crm.docs", "c", { id: 1 }, { id: 1, title: "a", body: "long text" }, 10),
      change("crm.docs", "d", { id: 1 }, null, 20, ["__debezium.newkey", '{"id":2}']),
      change("crm.docs", "c", { id: 2 }, { id: 2, title: "a", body: "__debezium_unavailable_value" }, 21, [
        "__debezium.oldkey",
        "Struct{id=1}",
      ]),
      change("crm.docs", "u", { id: 2 }, { id: 2, title: "b", body: "__debezium_unavailable_value" }, 30),
    ]);
    expect(err.filter((l) => l.includes("dead letter:"))).toEqual([]);
    expect(out.map((o) => [o.topic, o.value])).toEqual([
      ["moved", { oldId: 1, newId: 2, body: "long text" }],
      ["seen", { id: 2, body: "long text" }],
    ]);
  });
});

describe("changecast check", () => {
  it("reports lookups of tables without state, unknown indexes and a wrong key arity with file:line", async () => {
    const { loadPipelineConfig } = await import("../../src/config/pipeline-config.js");
    const { loadTransforms } = await import("../../src/worker/pipeline-setup.js");
    const dir = tempProject({
      "changecast.yaml": config("dbserver1", "postgres", ["codes.yaml", "orders.yaml"]),
      "codes.yaml": [
        "table: crm.codes",
        "state: rows",
        "primaryKey: [id, v]",
        "index:",
        "  byCode: [after.code_type, after.code]",
      ].join("\n"),
      "Order.avsc": record("OrderSeen", [
        { name: "a", type: ["null", "string"], default: null },
        { name: "b", type: ["null", "string"], default: null },
        { name: "c", type: ["null", "string"], default: null },
        { name: "d", type: ["null", "string"], default: null },
        { name: "e", type: ["null", "string"], default: null },
      ]),
      "orders.yaml": [
        "table: crm.orders",
        "events:",
        "  - name: OrderSeen",
        "    schema: Order.avsc",
        "    topic: orders",
        "    key: after.id",
        "    fields:",
        "      a: 'lookup(\"crm.nothing\", 1).x'",
        '      b: \'lookup("crm.codes", [1, 2], "byName").x\'',
        '      c: \'lookup("crm.codes", [1, 2, 3], "byCode").x\'',
        "      d: 'lookup(\"crm.codes\", 7).x'",
        '      e: \'lookup("crm.codes", [7, "x"]).x\'',
      ].join("\n"),
    });
    const { problems } = loadTransforms(loadPipelineConfig(join(dir, "changecast.yaml")));
    const shown = problems.map((p) => `${p.file.split("/").pop()}:${p.line}: ${p.message}`);
    expect(shown).toEqual([
      'orders.yaml:8: lookup("crm.nothing"): the table does not declare state: rows (tables with state: crm.codes)',
      'orders.yaml:9: lookup("crm.codes", …, "byName"): no index "byName" (indexes: byCode)',
      'orders.yaml:10: lookup("crm.codes", …, "byCode"): the key has 3 values, the index has 2 expressions',
      'orders.yaml:11: lookup("crm.codes"): the key has 1 value, the primary key has 2 columns (id, v)',
    ]);
  });
});
