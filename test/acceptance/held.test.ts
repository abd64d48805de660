// Acceptance of held changes — `requires:` (children parked until their parent row arrives) and transaction
// aggregates (`aggregate:` files) — as a user meets them: a small project in a temp directory, Debezium captures
// written by hand in Postgres and Oracle flavour (JsonConverter with and without schemas, transaction metadata
// BEGIN/END on `<prefix>.transaction`, the `transaction` block on data records), run through the compiled CLI
// (`changecast replay`, `check`, embedded `run`) and compared with what the documentation promises.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compiledCli } from "../support/compiled-cli.js";

const NO_INFRA = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

let bin = "";
beforeAll(() => {
  bin = compiledCli();
}, 300_000);

function cli(cwd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    env: NO_INFRA,
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
  wire?: { timestamp?: number | string };
}

const DLQ = "held.dlq";

function replay(dir: string, lines: string[]) {
  const input = join(dir, `input-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(input, lines.join("\n") + "\n");
  const r = cli(dir, ["replay", "--config", join(dir, "changecast.yaml"), "--input", input]);
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

/**
 * Embedded `run` over captures/run.jsonl (appended to between runs; or, with an object, one file per name, as kcat
 * dumps of each topic are): the new output records of this run.
 */
function run(dir: string, lines: string[] | Record<string, string[]>) {
  mkdirSync(join(dir, "captures"), { recursive: true });
  for (const [name, ls] of Object.entries(Array.isArray(lines) ? { "run.jsonl": lines } : lines)) {
    const file = join(dir, "captures", name);
    const before = existsSync(file) ? readFileSync(file, "utf8") : "";
    writeFileSync(file, before + ls.map((l) => l + "\n").join(""));
  }
  const seen = outputs(dir);
  const r = cli(dir, ["run", "--config", join(dir, "changecast.yaml")]);
  if (r.code !== 0) throw new Error(`run exit ${r.code}: ${r.stderr}`);
  const now = outputs(dir);
  // the new records of this run, per output file (the order across topics is not defined)
  const out = [...now].flatMap(([f, xs]) => xs.slice(seen.get(f)?.length ?? 0));
  return { out, stderr: r.stderr + r.stdout };
}
function outputs(dir: string): Map<string, Out[]> {
  const outDir = join(dir, ".changecast", "out");
  const all = new Map<string, Out[]>();
  for (const f of [
    "crm.person-events.jsonl",
    "crm.phone-events.jsonl",
    "order-events.jsonl",
    `${DLQ}.jsonl`,
  ]) {
    const p = join(outDir, f);
    if (existsSync(p))
      all.set(
        f,
        readFileSync(p, "utf8")
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Out),
      );
  }
  return all;
}

function project(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-held-"));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const avsc = (name: string, fields: object[]) => ({ type: "record", name, namespace: "io.held", fields });
const opt = (name: string, type: unknown = "string") => ({ name, type: ["null", type], default: null });

// ---------------------------------------------------------------------------------------------------------------
// Debezium records

interface Flavour {
  connector: "postgres" | "oracle";
  prefix: string;
  schemas: boolean;
  db: string;
}
const PG: Flavour = { connector: "postgres", prefix: "dbserver1", schemas: true, db: "crm" };
const PG_SCHEMALESS: Flavour = { ...PG, schemas: false };
const ORA: Flavour = { connector: "oracle", prefix: "server1", schemas: true, db: "ORCLPDB1" };

const T0 = 1710497000000;
/** Source time of position `pos`: one second apart. */
const tsOf = (pos: number) => T0 + pos * 1000;

interface TxRef {
  /** transaction number (Postgres txId, Oracle the XID's tail) */
  n: number;
  order: number;
  /** the commit time every change of the transaction carries */
  ts?: number;
}

function connectType(v: unknown): string {
  return typeof v === "number" ? "int64" : "string";
}

/** The kcat -J line of one change (`pos`: LSN / SCN, source time, offset). */
function change(
  f: Flavour,
  table: string,
  op: "r" | "c" | "u" | "d",
  row: Record<string, unknown>,
  pos: number,
  opts: {
    tx?: TxRef;
    before?: Record<string, unknown> | null;
    keyCols?: string[];
    headers?: string[];
    ts?: number;
  } = {},
): string {
  const ts = opts.ts ?? opts.tx?.ts ?? tsOf(pos);
  const [schema, name] = table.split(".");
  const topic = `${f.prefix}.${table}`;
  const tx = opts.tx;
  const source =
    f.connector === "postgres"
      ? {
          version: "3.6.1.Final",
          connector: "postgresql",
          name: f.prefix,
          ts_ms: ts,
          snapshot: op === "r" ? "true" : "false",
          db: f.db,
          sequence: JSON.stringify([String(1000 + pos * 10), String(1000 + pos * 10)]),
          schema,
          table: name,
          txId: tx ? tx.n : 9000 + pos,
          lsn: 1000 + pos * 10,
        }
      : {
          version: "3.6.1.Final",
          connector: "oracle",
          name: f.prefix,
          ts_ms: ts,
          snapshot: op === "r" ? "true" : "false",
          db: f.db,
          schema,
          table: name,
          txId: op === "r" ? null : oraXid(tx ? tx.n : 9000 + pos),
          scn: String(2000000 + pos),
          commit_scn: op === "r" ? null : String(2000000 + pos),
          txSeq: op === "r" ? null : (tx?.order ?? 1),
        };
  const transaction = tx
    ? {
        id: f.connector === "postgres" ? `${tx.n}:${1000 + pos * 10}` : oraXid(tx.n),
        total_order: tx.order,
        data_collection_order: tx.order,
      }
    : null;
  const before = op === "d" ? row : (opts.before ?? null);
  const after = op === "d" ? null : row;
  const payload = { before, after, source, transaction, op, ts_ms: ts + 500 };
  const keyCols = opts.keyCols ?? ["id"];
  const keyRow = Object.fromEntries(keyCols.map((k) => [k, row[k]]));
  let key: string;
  let value: string;
  if (f.schemas) {
    const rowSchema = (field: string) => ({
      type: "struct",
      fields: Object.entries(row).map(([n, v]) => ({
        type: connectType(v),
        optional: !keyCols.includes(n),
        field: n,
      })),
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
          {
            type: "struct",
            fields: Object.entries(source).map(([n, v]) => ({
              type: n === "ts_ms" || (typeof v === "number" && n !== "ts_ms") ? "int64" : "string",
              optional: n !== "ts_ms" && n !== "connector" && n !== "name" && n !== "version",
              field: n,
            })),
            optional: false,
            name:
              f.connector === "postgres"
                ? "io.debezium.connector.postgresql.Source"
                : "io.debezium.connector.oracle.Source",
            field: "source",
          },
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
    key = JSON.stringify({
      schema: {
        type: "struct",
        fields: keyCols.map((k) => ({ type: connectType(row[k]), optional: false, field: k })),
        optional: false,
        name: `${topic}.Key`,
      },
      payload: keyRow,
    });
  } else {
    value = JSON.stringify(payload);
    key = JSON.stringify(keyRow);
  }
  return kcat(topic, pos, key, value, opts.headers ?? []);
}

const oraXid = (n: number) => `0a001b00${String(n).padStart(8, "0")}`;

function kcat(
  topic: string,
  pos: number,
  key: string | null,
  value: string | null,
  headers: string[] = [],
): string {
  return JSON.stringify({
    topic,
    partition: 0,
    offset: pos,
    tstype: "create",
    ts: tsOf(pos) + 900,
    broker: 1,
    headers,
    key,
    payload: value,
  });
}

/** A transaction metadata record: BEGIN (`counts` null) or END with its data_collections. */
function txRecord(f: Flavour, n: number, pos: number, counts: Record<string, number> | null): string {
  const id = f.connector === "postgres" ? `${n}:${1000 + pos * 10}` : oraXid(n);
  const collection = (t: string) => (f.connector === "oracle" ? `${f.db}.${t}` : t);
  const payload = {
    status: counts ? "END" : "BEGIN",
    id,
    event_count: counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null,
    data_collections: counts
      ? Object.entries(counts).map(([t, c]) => ({ data_collection: collection(t), event_count: c }))
      : null,
    ts_ms: tsOf(pos),
  };
  const value = f.schemas
    ? JSON.stringify({
        schema: {
          type: "struct",
          fields: [
            { type: "string", optional: false, field: "status" },
            { type: "string", optional: false, field: "id" },
            { type: "int64", optional: true, field: "event_count" },
            {
              type: "array",
              items: {
                type: "struct",
                fields: [
                  { type: "string", optional: false, field: "data_collection" },
                  { type: "int64", optional: false, field: "event_count" },
                ],
                optional: false,
              },
              optional: true,
              field: "data_collections",
            },
            { type: "int64", optional: false, field: "ts_ms" },
          ],
          optional: false,
          name: "io.debezium.connector.common.TransactionMetadataValue",
          version: 1,
        },
        payload,
      })
    : JSON.stringify(payload);
  const key = f.schemas
    ? JSON.stringify({
        schema: {
          type: "struct",
          fields: [{ type: "string", optional: false, field: "id" }],
          optional: false,
          name: "io.debezium.connector.common.TransactionMetadataKey",
        },
        payload: { id },
      })
    : JSON.stringify({ id });
  return kcat(`${f.prefix}.transaction`, pos, key, value);
}

function heartbeat(f: Flavour, pos: number): string {
  return kcat(
    `__debezium-heartbeat.${f.prefix}`,
    pos,
    JSON.stringify({ serverName: f.prefix }),
    JSON.stringify({ ts_ms: tsOf(pos) }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The project: persons (state: rows), phones requiring their person, orders with lines aggregated

function names(f: Flavour) {
  const up = (s: string) => (f.connector === "oracle" ? s.toUpperCase() : s);
  return {
    persons: up("crm.persons"),
    phones: up("crm.phones"),
    orders: up("inventory.orders"),
    lines: up("inventory.order_lines"),
    c: up, // column names
  };
}

function heldProject(
  f: Flavour,
  opts: {
    requires?: string[];
    aggregateWhen?: string;
    txTimeout?: string;
    extra?: Record<string, string>;
    match?: string;
    lines?: string;
  } = {},
): string {
  const n = names(f);
  const c = n.c;
  return project({
    "changecast.yaml": [
      "pipeline: held",
      "source:",
      `  connector: ${f.connector}`,
      `  topicPrefix: ${f.prefix}`,
      "  format: json",
      "  files: [captures/*.jsonl]",
      `  transactionTopic: ${f.prefix}.transaction`,
      ...(opts.txTimeout ? [`  transactionTimeout: ${opts.txTimeout}`] : []),
      `errors: { tolerance: all, deadLetterTopic: ${DLQ} }`,
      "transforms: [transforms/*.yaml]",
    ].join("\n"),
    "transforms/persons.yaml": [
      `table: ${n.persons}`,
      "state: rows",
      "events:",
      "  - name: PersonChanged",
      "    schema: schemas/PersonChanged.avsc",
      "    topic: crm.person-events",
      '    when: op != "d"',
      `    key: after.${c("id")}`,
      "    fields:",
      `      id: after.${c("id")}`,
      `      name: after.${c("name")}`,
    ].join("\n"),
    "transforms/phones.yaml": [
      `table: ${n.phones}`,
      "requires:",
      `  - table: ${n.persons}`,
      `    key: after.${c("person_id")}`,
      ...(opts.requires ?? ["    timeout: 15m"]),
      "events:",
      "  - name: PhoneChanged",
      "    schema: schemas/PhoneChanged.avsc",
      "    topic: crm.phone-events",
      `    key: 'op == "d" ? before.${c("id")} : after.${c("id")}'`,
      "    fields:",
      `      id: 'op == "d" ? before.${c("id")} : after.${c("id")}'`,
      "      op: op",
      `      number: 'op == "d" ? null : after.${c("num")}'`,
      `      personName: 'op == "d" || lookup("${n.persons}", after.${c("person_id")}) == null ? null : lookup("${n.persons}", after.${c("person_id")}).${c("name")}'`,
    ].join("\n"),
    "transforms/order-placed.yaml": [
      `aggregate: ${n.orders}`,
      "members:",
      "  lines:",
      `    table: ${n.lines}`,
      `    match: '${opts.match ?? `member.after.${c("order_id")} == root.after.${c("id")}`}'`,
      "events:",
      "  - name: OrderPlaced",
      "    schema: schemas/OrderPlaced.avsc",
      "    topic: order-events",
      `    when: ${opts.aggregateWhen ?? 'root.op == "c" || root.op == "r" || root.op == "u"'}`,
      `    key: root.after.${c("id")}`,
      "    fields:",
      `      orderId: root.after.${c("id")}`,
      `      lines: '${opts.lines ?? "lines"}.map(l, {"productId": l.after.${c("product_id")}, "quantity": l.after.${c("qty")}})'`,
      "      placedAt: root.source.ts_ms",
      "      txId: 'tx == null ? null : tx.id'",
      "      eventCount: 'tx == null ? null : tx.event_count'",
    ].join("\n"),
    "schemas/PersonChanged.avsc": avsc("PersonChanged", [{ name: "id", type: "long" }, opt("name")]),
    "schemas/PhoneChanged.avsc": avsc("PhoneChanged", [
      { name: "id", type: "long" },
      { name: "op", type: "string" },
      opt("number"),
      opt("personName"),
    ]),
    "schemas/OrderPlaced.avsc": avsc("OrderPlaced", [
      { name: "orderId", type: "long" },
      {
        name: "lines",
        type: {
          type: "array",
          items: {
            type: "record",
            name: "Line",
            fields: [
              { name: "productId", type: "long" },
              { name: "quantity", type: "int" },
            ],
          },
        },
      },
      { name: "placedAt", type: { type: "long", logicalType: "timestamp-millis" } },
      opt("txId"),
      opt("eventCount", "long"),
    ]),
    "captures/empty.jsonl": "",
    ...(opts.extra ?? {}),
  });
}

// shorthand builders per flavour
function rows(f: Flavour) {
  const n = names(f);
  const c = n.c;
  return {
    person: (id: number, name: string, pos: number, op: "c" | "u" | "r" | "d" = "c") =>
      change(f, n.persons, op, { [c("id")]: id, [c("name")]: name }, pos, { keyCols: [c("id")] }),
    phone: (id: number, personId: number, num: string, pos: number, op: "c" | "u" | "d" = "c") =>
      change(f, n.phones, op, { [c("id")]: id, [c("person_id")]: personId, [c("num")]: num }, pos, {
        keyCols: [c("id")],
      }),
    order: (id: number, pos: number, tx?: TxRef, op: "c" | "u" | "r" | "d" = "c", extra: object = {}) =>
      change(f, n.orders, op, { [c("id")]: id, [c("status")]: "NEW", ...extra }, pos, {
        tx,
        keyCols: [c("id")],
      }),
    line: (
      id: number,
      orderId: number,
      productId: number,
      qty: number,
      pos: number,
      tx?: TxRef,
      op: "c" | "u" | "d" = "c",
    ) =>
      change(
        f,
        n.lines,
        op,
        { [c("id")]: id, [c("order_id")]: orderId, [c("product_id")]: productId, [c("qty")]: qty },
        pos,
        { tx, keyCols: [c("id")] },
      ),
    end: (tx: number, pos: number, orders: number, lines: number, extra: Record<string, number> = {}) =>
      txRecord(f, tx, pos, { [n.orders]: orders, [n.lines]: lines, ...extra }),
    begin: (tx: number, pos: number) => txRecord(f, tx, pos, null),
  };
}

const phoneEvents = (out: Out[]) => out.filter((o) => o.topic === "crm.phone-events");
const orderEvents = (out: Out[]) => out.filter((o) => o.topic === "order-events");

// ---------------------------------------------------------------------------------------------------------------

describe("requires: children before parents", () => {
  for (const f of [PG, ORA]) {
    it(`${f.connector}: parks, releases after the parent in source order per child key, deletes do not wait, end of replay times out`, () => {
      const n = names(f);
      const r = rows(f);
      const dir = heldProject(f);
      const { out, events, dead, stderr } = replay(dir, [
        r.phone(10, 1, "a1", 1), // person 1 missing: parked
        r.phone(20, 2, "b1", 2), // person 2 never comes
        r.person(3, "Cy", 3),
        r.phone(30, 3, "c1", 4), // parent present: not blocked by the parked keys
        r.phone(10, 1, "a2", 5, "u"), // waits behind the parked change of key 10
        r.phone(11, 1, "d1", 6),
        r.person(1, "Ann", 7), // releases 10 (c, u) and 11, right after this change
        r.person(1, "Anna", 8, "u"),
        r.phone(20, 2, "b1", 9, "d"), // a delete does not need its parent, but key 20 has a parked change
        r.phone(40, 4, "e1", 10, "d"), // a delete of another key: published at once
      ]);
      const seq = events.map((e) =>
        e.topic === "crm.person-events"
          ? `person ${String(e.value?.id)} ${String(e.value?.name)}`
          : `phone ${String(e.value?.id)} ${String(e.value?.op)} ${String(e.value?.number)} ${String(e.value?.personName)}`,
      );
      expect(seq).toEqual([
        "person 3 Cy",
        "phone 30 c c1 Cy",
        "person 1 Ann",
        "phone 10 c a1 Ann",
        "phone 10 u a2 Ann",
        "phone 11 c d1 Ann",
        "person 1 Anna",
        "phone 40 d null null",
        "phone 20 d null null", // behind the timed-out create of key 20, at the end of the input
      ]);
      // the create of 20 timed out at the end of the input: a dead letter naming the parent table and key
      expect(dead).toHaveLength(1);
      const reason = dead[0]!.headers["__connect.errors.exception.message"] ?? "";
      expect(reason).toContain(n.persons);
      expect(reason).toMatch(/\b2\b/);
      expect(dead[0]!.headers.changecast_error_code).toBe("MAP_DEPENDENCY_TIMEOUT");
      expect(
        JSON.parse(dead[0]!.payload!).payload?.after ?? JSON.parse(dead[0]!.payload!).after,
      ).toBeTruthy();
      // the dead letter comes before the delete that waited behind it
      expect(out.findIndex((o) => o.topic === DLQ)).toBeLessThan(
        out.findIndex((o) => o.topic === "crm.phone-events" && o.value?.id === 20),
      );
      expect(stderr).toMatch(/held \(requires\): 5 parked, 4 released, 1 timed out/);
      expect(stderr).toMatch(
        /reconciliation: 10 records in = 9 mapped \(9 events out\) \+ 0 filtered \+ 1 dead letters/,
      );
    });
  }

  it("a composite parent key; a parent snapshot row releases; a null foreign key waits for nothing", () => {
    const f = PG;
    const dir = heldProject(f, {
      extra: {
        "transforms/accounts.yaml": ["table: crm.accounts", "state: rows", "events: []"].join("\n"),
        "transforms/contacts.yaml": [
          "table: crm.contacts",
          "requires:",
          "  - table: crm.accounts",
          "    key: '[after.tenant, after.account_id]'",
          "events:",
          "  - name: PhoneChanged",
          "    schema: schemas/PhoneChanged.avsc",
          "    topic: crm.phone-events",
          "    key: after.id",
          "    fields:",
          "      id: after.id",
          "      op: op",
          "      number: after.num",
          '      personName: \'lookup("crm.accounts", [after.tenant, after.account_id]) == null ? null : lookup("crm.accounts", [after.tenant, after.account_id]).name\'',
        ].join("\n"),
      },
    });
    const account = (tenant: string, id: number, name: string, pos: number, op: "r" | "c") =>
      change(f, "crm.accounts", op, { tenant, id, name }, pos, { keyCols: ["tenant", "id"] });
    const contact = (id: number, tenant: string, accountId: number | null, num: string, pos: number) =>
      change(f, "crm.contacts", "c", { id, tenant, account_id: accountId, num }, pos);
    const { events, dead } = replay(dir, [
      contact(1, "t1", 7, "a", 1), // waits for (t1, 7)
      contact(2, "t2", 7, "b", 2), // waits for (t2, 7): another parent
      contact(3, "t1", null, "c", 3), // no account: waits for nothing
      account("t1", 7, "Seven", 4, "r"), // a snapshot row of the parent releases contact 1
      account("t2", 7, "Sieben", 5, "c"),
    ]);
    expect(dead.map((d) => d.headers["__connect.errors.exception.message"])).toEqual([]);
    expect(phoneEvents(events).map((e) => `${String(e.value?.id)} ${String(e.value?.personName)}`)).toEqual([
      "3 null",
      "1 Seven",
      "2 Sieben",
    ]);
  });

  it("timeout in source time: a heartbeat later than the parked change by the timeout publishes it (onTimeout: publish)", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, { requires: ["    timeout: 1m", "    onTimeout: publish"] });
    const { events, dead, stderr } = replay(dir, [
      r.phone(10, 1, "a1", 1),
      heartbeat(f, 50), // 49 s later: still parked
      r.phone(11, 2, "x", 55), // another parked key
      heartbeat(f, 62), // 61 s after phone 10: it times out and is published without its person
      r.person(2, "Bo", 63), // releases 11
      r.person(1, "Al", 64), // too late for 10: it was published already
    ]);
    expect(dead).toHaveLength(0);
    expect(
      events.map(
        (e) =>
          `${e.topic} ${String(e.value?.id)} ${String(e.topic === "crm.phone-events" ? e.value?.personName : e.value?.name)}`,
      ),
    ).toEqual([
      "crm.phone-events 10 null",
      "crm.person-events 2 Bo",
      "crm.phone-events 11 Bo",
      "crm.person-events 1 Al",
    ]);
    expect(stderr).toMatch(/held \(requires\): 2 parked, 1 released, 1 timed out/);
    expect(stderr).toMatch(
      /reconciliation: 6 records in = 4 mapped \(4 events out\) \+ 2 filtered \+ 0 dead letters/,
    );
  });

  it("oracle: onTimeout dead-letter names the parent table and key; the when: of the require decides what waits", () => {
    const f = ORA;
    const n = names(f);
    const r = rows(f);
    const dir = heldProject(f, { requires: ["    timeout: 30s", "    onTimeout: dead-letter"] });
    const { events, dead } = replay(dir, [
      r.phone(10, 77, "a1", 1),
      r.person(5, "Eve", 40), // 39 s later: phone 10 times out before this change is mapped
      r.phone(10, 77, "a2", 41, "u"), // no longer behind anything, but person 77 is still missing: parked again
      r.person(77, "Zed", 42),
    ]);
    expect(dead).toHaveLength(1);
    const reason = dead[0]!.headers["__connect.errors.exception.message"] ?? "";
    expect(reason).toContain(n.persons);
    expect(reason).toContain("77");
    expect(
      events.map((e) => `${e.topic} ${String(e.value?.id)} ${String(e.value?.number ?? e.value?.name)}`),
    ).toEqual(["crm.person-events 5 Eve", "crm.person-events 77 Zed", "crm.phone-events 10 a2"]);
  });

  it("the require's when: decides which changes wait; a key behind a parked change still waits", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, { requires: ['    when: op == "c"'] });
    const { events } = replay(dir, [
      r.phone(10, 1, "a1", 1), // a create: waits for person 1
      r.phone(20, 2, "b2", 2, "u"), // an update does not wait
      r.phone(10, 1, "a2", 3, "u"), // an update, but behind the parked create of 10
      r.person(1, "Ann", 4),
    ]);
    expect(
      events.map((e) => `${e.topic} ${String(e.value?.id)} ${String(e.value?.number ?? e.value?.name)}`),
    ).toEqual([
      "crm.phone-events 20 b2",
      "crm.person-events 1 Ann",
      "crm.phone-events 10 a1",
      "crm.phone-events 10 a2",
    ]);
  });

  it("embedded run over one capture file per topic (children's file first): released, nothing timed out", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f, { requires: ["    timeout: 1m"] });
    // ten minutes of phones and persons; each phone 2 s before its person; files read in time order
    const phones: string[] = [];
    const persons: string[] = [];
    for (let i = 0; i < 10; i++) {
      phones.push(r.phone(100 + i, i, `n${i}`, i * 60 + 1));
      persons.push(r.person(i, `P${i}`, i * 60 + 3));
    }
    const { out, stderr } = run(dir, { "a-phones.jsonl": phones, "b-persons.jsonl": persons });
    expect(out.filter((o) => o.topic === DLQ)).toHaveLength(0);
    expect(phoneEvents(out).map((e) => e.value?.personName)).toEqual(persons.map((_, i) => `P${i}`));
    expect(stderr).toMatch(/held \(requires\): 10 parked, 10 released, 0 timed out/);
    // a phone is never published before its person: each phone is written after its person's event
    const order = readFileSync(join(dir, ".changecast", "out", "crm.phone-events.jsonl"), "utf8");
    expect(order.split("\n").filter(Boolean)).toHaveLength(10);
  });

  it("embedded run: a released child sees its parent as it was when it arrived, not its later changes", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f);
    const first = run(dir, [r.phone(10, 1, "a1", 1)]);
    expect(first.out).toHaveLength(0);
    // the next run: the person is created, then renamed; the phone goes right after the create
    const second = run(dir, [
      r.phone(11, 1, "b1", 2),
      r.person(1, "Ann", 3),
      r.person(1, "Anna", 4, "u"),
      r.phone(12, 1, "c1", 5),
    ]);
    expect(
      phoneEvents(second.out).map((e) => `${String(e.value?.id)} ${String(e.value?.personName)}`),
    ).toEqual(["10 Ann", "11 Ann", "12 Anna"]);
  });

  it("embedded run: a parked change held longer than its timeout by the clock times out in the next run", async () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f, { requires: ["    timeout: 1s"] });
    const first = run(dir, [r.phone(10, 1, "a1", 1)]);
    expect(first.out).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 1500));
    const second = run(dir, [r.person(5, "Eve", 2)]);
    const dead = second.out.filter((o) => o.topic === DLQ);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers.changecast_error_code).toBe("MAP_DEPENDENCY_TIMEOUT");
  });

  it("embedded run keeps what is parked for the next run and releases it when the parent arrives then", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f, { requires: ["    timeout: 1m"] });
    const first = run(dir, [
      r.phone(10, 1, "a1", 1),
      r.phone(11, 1, "b1", 2),
      r.person(9, "Nine", 3),
      heartbeat(f, 2000),
    ]);
    expect(phoneEvents(first.out)).toHaveLength(0);
    expect(first.out.filter((o) => o.topic === DLQ)).toHaveLength(0);
    expect(first.stderr).toMatch(/held \(requires\): 2 parked/);
    // the parked records are not counted yet: they are counted once, when finally mapped
    expect(first.stderr).toMatch(
      /reconciliation: 2 records in = 1 mapped \(1 events out\) \+ 1 filtered \+ 0 dead letters/,
    );
    expect(first.stderr).toMatch(/2 still held for the next run/);
    // the next run: the person arrives (its own source time is far past the timeout, but the phones are released by
    // it, not timed out: the parent is applied when its record is processed)
    const second = run(dir, [r.person(1, "Ann", 2001)]);
    expect(
      second.out.map(
        (e) =>
          `${e.topic} ${String(e.value?.id)} ${String(e.topic === "crm.phone-events" ? e.value?.personName : e.value?.name)}`,
      ),
    ).toEqual(["crm.person-events 1 Ann", "crm.phone-events 10 Ann", "crm.phone-events 11 Ann"]);
    expect(second.stderr).toMatch(/2 released/);
    // the parked records are counted once, now that they are mapped
    expect(second.stderr).toMatch(/reconciliation: 3 records in = 3 mapped/);
    const third = run(dir, []);
    expect(third.out).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const summary = (e: Out) =>
  `${String(e.value?.orderId)}:${(e.value?.lines as { productId: number }[]).map((l) => l.productId).join(",")}${
    e.headers.changecast_partial === "true" ? " partial" : ""
  }`;

describe("transaction aggregates", () => {
  for (const f of [PG, ORA]) {
    it(`${f.connector}: END before its data, interleaved transactions, per-table counts, other tables of the transaction`, () => {
      const r = rows(f);
      const n = names(f);
      const dir = heldProject(f);
      const A = (order: number): TxRef => ({ n: 500, order, ts: tsOf(20) });
      const B = (order: number): TxRef => ({ n: 501, order, ts: tsOf(21) });
      const { events, dead, stderr } = replay(dir, [
        r.begin(500, 1),
        r.begin(501, 2),
        // the END of 500 comes first (its topic is read ahead): 1 order, 3 lines, and a person change
        r.end(500, 20, 1, 3, { [n.persons]: 1 }),
        r.order(1, 3, A(1)),
        r.order(2, 4, B(1)),
        r.line(11, 1, 101, 1, 5, A(2)),
        r.line(21, 2, 201, 5, 6, B(2)),
        r.line(12, 1, 102, 2, 7, A(3)), // 500 has the root and 2 of its 3 lines: not complete
        r.end(501, 21, 1, 1), // 501 complete here
        r.person(3, "Cy", 8), // a change of another table: does not complete 500
        r.line(13, 1, 103, 3, 9, A(4)), // 500 complete here (its person change is no aggregate's concern)
        r.person(4, "Di", 10),
      ]);
      expect(dead).toHaveLength(0);
      const seq = events.map((e) =>
        e.topic === "order-events" ? summary(e) : `person ${String(e.value?.id)}`,
      );

      expect(seq).toEqual(["2:201", "person 3", "1:101,102,103", "person 4"]);
      const one = orderEvents(events).find((e) => e.value?.orderId === 1)!;
      expect(one.headers.changecast_partial).toBeUndefined();
      expect(one.value?.eventCount).toBe(5);
      if (f.connector === "oracle") expect(one.value?.txId).toBe(oraXid(500));
      else expect(String(one.value?.txId)).toMatch(/^500(:|$)/);
      // the record timestamp is the commit time
      expect(one.headers.ce_time).toBe(new Date(tsOf(20)).toISOString());
      expect(stderr).toMatch(/reconciliation: 12 records in/);
    });
  }

  it("a primary-key update of a member counts twice; a member with more rows than the root", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, {
      match: '(member.op == "d" ? member.before : member.after).order_id == root.after.id',
      lines: 'lines.filter(l, l.op != "d")',
    });
    const T = (order: number): TxRef => ({ n: 700, order, ts: tsOf(10) });
    const lineRow = { id: 31, order_id: 1, product_id: 301, qty: 1 };
    const { events } = replay(dir, [
      r.order(1, 1, T(1)),
      r.line(30, 1, 300, 1, 2, T(2)),
      r.end(700, 10, 1, 4), // line 30 + line 31 moved to 32 (delete + create) + line 33
      change(f, "inventory.order_lines", "d", lineRow, 3, {
        tx: T(3),
        headers: ["__debezium.newkey", JSON.stringify({ id: 32 })],
      }),
      kcat("dbserver1.inventory.order_lines", 4, JSON.stringify({ id: 31 }), null), // the tombstone
      change(f, "inventory.order_lines", "c", { ...lineRow, id: 32 }, 5, {
        tx: T(4),
        headers: ["__debezium.oldkey", JSON.stringify({ id: 31 })],
      }),
      r.line(33, 1, 303, 1, 6, T(5)), // complete here
      r.person(9, "Nine", 7),
    ]);
    const seq = events.map((e) =>
      e.topic === "order-events" ? summary(e) : `person ${String(e.value?.id)}`,
    );
    expect(seq[0]).toMatch(/^1:300,.*303$/);
    expect(seq[0]).not.toContain("partial");
    expect(seq[1]).toBe("person 9");
  });

  it("a match that cannot be evaluated (a deleted member has no after) is a dead letter of that root, not the end of the run", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f);
    const T = (n: number, order: number): TxRef => ({ n, order, ts: tsOf(10) });
    const lines = [
      r.order(1, 1, T(600, 1), "u"),
      r.line(11, 1, 101, 1, 2, T(600, 2), "d"),
      r.end(600, 3, 1, 1),
      r.order(2, 4, T(601, 1)),
      r.line(21, 2, 201, 1, 5, T(601, 2)),
      r.end(601, 6, 1, 1),
    ];
    const { events, dead, stderr } = replay(dir, lines);
    expect(orderEvents(events).map(summary)).toEqual(["2:201"]);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers["__connect.errors.exception.message"]).toContain("members.lines.match");
    expect(stderr).toMatch(/aggregates: 1 published \(0 partial\), 1 dead letters/);
    // a CI run with --fail-on-dead-letters notices it
    const input = join(dir, "again.jsonl");
    writeFileSync(input, lines.join("\n") + "\n");
    const ci = cli(dir, [
      "replay",
      "--config",
      join(dir, "changecast.yaml"),
      "--input",
      input,
      "--fail-on-dead-letters",
    ]);
    expect(ci.code).toBe(3);
    expect(stderr).toMatch(/reconciliation: 6 records in = .* ✓/);
  });

  it("a primary-key update of the root counts twice: one event, for the new key", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f);
    const T = (order: number): TxRef => ({ n: 710, order, ts: tsOf(10) });
    const { events, dead } = replay(dir, [
      change(f, "inventory.orders", "d", { id: 1, status: "NEW" }, 1, {
        tx: T(1),
        headers: ["__debezium.newkey", JSON.stringify({ id: 2 })],
      }),
      kcat("dbserver1.inventory.orders", 2, JSON.stringify({ id: 1 }), null),
      change(f, "inventory.orders", "c", { id: 2, status: "NEW" }, 3, {
        tx: T(2),
        headers: ["__debezium.oldkey", JSON.stringify({ id: 1 })],
      }),
      r.line(21, 2, 201, 1, 4, T(3)),
      r.end(710, 10, 2, 1), // complete here
      r.person(1, "after", 11),
    ]);
    expect(dead).toHaveLength(0);
    expect(events.map((e) => (e.topic === "order-events" ? summary(e) : "person"))).toEqual([
      "2:201",
      "person",
    ]);
  });

  it("snapshot root rows are evaluated alone with empty members; tx is null", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f);
    const { events } = replay(dir, [
      r.order(1, 1, undefined, "r"),
      r.order(2, 2, undefined, "r"),
      r.person(1, "A", 3),
    ]);
    expect(events.map((e) => (e.topic === "order-events" ? summary(e) : "person"))).toEqual([
      "1:",
      "2:",
      "person",
    ]);
    expect(orderEvents(events)[0]!.value?.txId).toBeNull();
    expect(orderEvents(events)[0]!.headers.changecast_partial).toBeUndefined();
  });

  it("a transaction still incomplete after transactionTimeout (source time) is evaluated partial; the end of replay too", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, { txTimeout: "30s" });
    const T = (n: number, order: number, ts: number): TxRef => ({ n, order, ts });
    const { events, stderr } = replay(dir, [
      r.order(1, 1, T(800, 1, tsOf(1))),
      r.line(11, 1, 101, 1, 2, T(800, 2, tsOf(1))),
      r.end(800, 3, 1, 2), // one line never comes
      heartbeat(f, 20), // 19 s: still waiting
      heartbeat(f, 40), // 39 s: partial now
      r.person(1, "A", 41),
      r.line(12, 1, 102, 1, 41, T(800, 3, tsOf(1))), // the missing line, too late: no second event
      r.order(2, 42, T(801, 1, tsOf(42))), // no END ever: partial at the end of the input
    ]);
    const seq = events.map((e) => (e.topic === "order-events" ? summary(e) : "person"));
    expect(seq).toEqual(["1:101 partial", "person", "2: partial"]);
    expect(stderr).toMatch(/reconciliation: 8 records in = .* ✓/);
    expect(stderr).toMatch(/aggregates: 2 published \(2 partial\)/);
  });

  for (const f of [ORA, PG])
    it(`${f.connector}: ce_id = f(pipeline, event, tx id, root key): stable across replays and arrival orders, one per root`, () => {
      const r = rows(f);
      const T = (order: number): TxRef => ({ n: 900, order, ts: tsOf(9) });
      const input = [
        r.order(1, 1, T(1)),
        r.order(2, 2, T(2)),
        r.line(11, 1, 101, 1, 3, T(3)),
        r.line(21, 2, 201, 1, 4, T(4)),
        r.end(900, 9, 2, 2),
      ];
      const dir = heldProject(f);
      const a = orderEvents(replay(dir, input).events);
      const b = orderEvents(replay(dir, input).events);
      const c = orderEvents(replay(dir, [...input].reverse()).events);
      expect(a.map(summary)).toEqual(["1:101", "2:201"]);
      expect(a[0]!.headers.ce_id).not.toBe(a[1]!.headers.ce_id);
      const ids = (xs: Out[]) =>
        Object.fromEntries(xs.map((e) => [String(e.value?.orderId), e.headers.ce_id]));
      expect(ids(b)).toEqual(ids(a));
      expect(ids(c)).toEqual(ids(a));
      // another pipeline: other ids
      const other = heldProject(f);
      writeFileSync(
        join(other, "changecast.yaml"),
        readFileSync(join(other, "changecast.yaml"), "utf8").replace("pipeline: held", "pipeline: other"),
      );
      const d = orderEvents(replay(other, input).events);
      expect(ids(d)["1"]).not.toBe(ids(a)["1"]);
      // embedded run: the same ids, the record timestamp = commit time
      const e = orderEvents(run(dir, input).out);
      expect(ids(e)).toEqual(ids(a));
      expect(Number(e[0]!.wire?.timestamp)).toBe(tsOf(9));
      // the same transaction delivered again by Debezium after a connector restart (new offsets)
      const again = input.map((l) => {
        const k = JSON.parse(l) as { offset: number };
        return JSON.stringify({ ...k, offset: k.offset + 1000 });
      });
      // are no new fact: nothing published again (or, where published, under the same ids), nothing partial
      const redelivered = orderEvents(run(dir, again).out);
      for (const x of redelivered) {
        expect(Object.values(ids(a))).toContain(x.headers.ce_id);
        expect(x.headers.changecast_partial).toBeUndefined();
      }
    });

  it("embedded run over one capture file per topic: transactions over ten minutes complete, none partial", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f);
    const files: Record<string, string[]> = { "lines.jsonl": [], "orders.jsonl": [], "tx.jsonl": [] };
    for (let i = 0; i < 10; i++) {
      const p = i * 60 + 1;
      const T = (order: number): TxRef => ({ n: 1000 + i, order, ts: tsOf(p + 4) });
      files["tx.jsonl"]!.push(r.begin(1000 + i, p));
      files["orders.jsonl"]!.push(r.order(i, p + 1, T(1)));
      files["lines.jsonl"]!.push(
        r.line(100 + i, i, 500 + i, 1, p + 2, T(2)),
        r.line(200 + i, i, 600 + i, 2, p + 3, T(3)),
      );
      files["tx.jsonl"]!.push(r.end(1000 + i, p + 4, 1, 2));
    }
    const { out, stderr } = run(dir, files);
    expect(orderEvents(out).map(summary)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${i}:${500 + i},${600 + i}`),
    );
    expect(stderr).toMatch(/aggregates: 10 published \(0 partial\)/);
  });

  it("a root row changed twice in its transaction is evaluated once, with its last change", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, { aggregateWhen: 'root.op == "u"' });
    const T = (order: number): TxRef => ({ n: 1200, order, ts: tsOf(5) });
    const { events } = replay(dir, [
      r.order(1, 1, T(1)),
      r.line(11, 1, 101, 1, 2, T(2)),
      r.order(1, 3, T(3), "u", { status: "PAID" }),
      r.end(1200, 5, 2, 1),
    ]);
    expect(orderEvents(events).map(summary)).toEqual(["1:101"]);
  });

  it("embedded run: a transaction held longer than transactionTimeout by the clock is published partial in the next run", async () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f, { txTimeout: "1s" });
    const T = (order: number): TxRef => ({ n: 960, order, ts: tsOf(5) });
    const first = run(dir, [r.order(1, 1, T(1)), r.line(11, 1, 101, 1, 2, T(2))]); // END never comes
    expect(orderEvents(first.out)).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 1500));
    const second = run(dir, [r.person(5, "Eve", 3)]);
    expect(orderEvents(second.out).map(summary)).toEqual(["1:101 partial"]);
  });

  it("a root table with a transform of its own: its changes are mapped as usual too", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, {
      extra: {
        "transforms/orders.yaml": [
          "table: inventory.orders",
          "events:",
          "  - name: PersonChanged",
          "    schema: schemas/PersonChanged.avsc",
          "    topic: crm.person-events",
          "    key: after.id",
          "    fields: { id: after.id, name: after.status }",
        ].join("\n"),
      },
    });
    const T = (order: number): TxRef => ({ n: 970, order, ts: tsOf(5) });
    const { events, stderr } = replay(dir, [
      r.order(1, 1, T(1)),
      r.line(11, 1, 101, 1, 2, T(2)),
      r.end(970, 3, 1, 1),
    ]);
    expect(
      events.map((e) => (e.topic === "order-events" ? summary(e) : `row ${String(e.value?.name)}`)),
    ).toEqual(["row NEW", "1:101"]);
    expect(stderr).toMatch(/reconciliation: 3 records in = 1 mapped \(2 events out\) \+ 2 filtered/);
  });

  it("oracle: a long transaction (changes minutes before its commit, emitted at commit) is not partial", () => {
    const f = ORA;
    const r = rows(f);
    const dir = heldProject(f);
    // LogMiner emits a transaction's changes at its commit, each with its own change time (source.ts_ms)
    const T = (order: number, pos: number): TxRef => ({ n: 990, order, ts: tsOf(pos) });
    const { events } = replay(dir, [
      r.person(1, "short transaction committed meanwhile", 60),
      r.order(1, 1, T(1, 1)), // changed at t+1 s
      r.line(11, 1, 101, 1, 100, T(2, 100)), // changed at t+100 s
      r.line(12, 1, 102, 1, 119, T(3, 119)),
      r.end(990, 120, 1, 2), // committed at t+120 s
    ]);
    expect(orderEvents(events).map(summary)).toEqual(["1:101,102"]);
    // the record timestamp is the commit time (END), not the root's change time
    expect(orderEvents(events)[0]!.headers.ce_time).toBe(new Date(tsOf(120)).toISOString());
  });

  it("a member change that its own table's file parks still counts for its transaction", () => {
    const f = PG_SCHEMALESS;
    const r = rows(f);
    const dir = heldProject(f, {
      extra: {
        "transforms/lines.yaml": [
          "table: inventory.order_lines",
          "requires:",
          "  - table: crm.persons",
          "    key: after.product_id",
          "events:",
          "  - name: PhoneChanged",
          "    schema: schemas/PhoneChanged.avsc",
          "    topic: crm.phone-events",
          "    key: after.id",
          "    fields: { id: after.id, op: op }",
        ].join("\n"),
      },
    });
    const T = (order: number): TxRef => ({ n: 980, order, ts: tsOf(5) });
    const { events } = replay(dir, [
      r.order(1, 1, T(1)),
      r.line(11, 1, 101, 1, 2, T(2)), // parked: no person 101
      r.end(980, 3, 1, 1), // complete: the parked line counts
      r.person(101, "P", 4), // releases the line's own event
    ]);
    expect(
      events.map((e) => (e.topic === "order-events" ? summary(e) : `${e.topic} ${String(e.value?.id)}`)),
    ).toEqual(["1:101", "crm.person-events 101", "crm.phone-events 11"]);
  });

  it("embedded run keeps an incomplete transaction for the next run", () => {
    const f = PG;
    const r = rows(f);
    const dir = heldProject(f);
    const T = (order: number): TxRef => ({ n: 950, order, ts: tsOf(5) });
    const first = run(dir, [r.order(1, 1, T(1)), r.end(950, 5, 1, 1)]);
    expect(orderEvents(first.out)).toHaveLength(0);
    const second = run(dir, [r.line(11, 1, 101, 2, 6, T(2))]);
    expect(orderEvents(second.out).map(summary)).toEqual(["1:101"]);
  });
});

describe("check", () => {
  it("reports bad requires: and aggregate declarations with file:line", () => {
    const f = PG;
    const dir = heldProject(f, {
      requires: ["    timeout: 15 minutes", "    onTimeout: drop", "    when: op ==== 1"],
      extra: {
        "transforms/bad-agg.yaml": [
          "aggregate: inventory.orders",
          "members:",
          "  root:",
          "    table: inventory.order_lines",
          "    match: member.after.order_id == root.after.id",
          "events: []",
        ].join("\n"),
        "transforms/bad-match.yaml": [
          "aggregate: inventory.returns",
          "members:",
          "  items:",
          "    table: inventory.return_items",
          "    match: after.return_id == root.after.id",
          "events: []",
        ].join("\n"),
        "transforms/bad-fields.yaml": [
          "aggregate: inventory.invoices",
          "requires:",
          "  - table: crm.persons",
          "    key: root.after.person_id",
          "members:",
          "  same:",
          "    table: inventory.invoices",
          "    match: member.after.id == root.after.id",
          "events:",
          "  - name: OrderPlaced",
          "    schema: schemas/OrderPlaced.avsc",
          "    topic: order-events",
          "    key: root.after.id",
          "    fields:",
          "      orderId: after.id",
          "      lines: '[]'",
          "      placedAt: root.source.ts_ms",
        ].join("\n"),
        "transforms/no-state.yaml": [
          "table: crm.addresses",
          "requires:",
          "  - table: crm.phones",
          "    key: after.phone_id",
          "events: []",
        ].join("\n"),
      },
    });
    const r = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/phones\.yaml:5: .*timeout/);
    expect(out).toMatch(/phones\.yaml:6: .*onTimeout/);
    expect(out).toMatch(/phones\.yaml:7: /);
    expect(out).toMatch(/bad-agg\.yaml:3: .*root/);
    expect(out).toMatch(/bad-match\.yaml:5: .*after/);
    expect(out).toMatch(/no-state\.yaml:3: .*state: rows/);
    expect(out).toMatch(/bad-fields\.yaml:2: .*requires/);
    expect(out).toMatch(/bad-fields\.yaml:7: .*(root|member)/);
    expect(out).toMatch(/bad-fields\.yaml:15: .*after/);
    // without source.transactionTopic an aggregate file is an error
    writeFileSync(
      join(dir, "changecast.yaml"),
      readFileSync(join(dir, "changecast.yaml"), "utf8").replace(/ {2}transactionTopic: .*\n/, ""),
    );
    const r2 = cli(dir, ["check", "--config", join(dir, "changecast.yaml")]);
    expect(r2.stdout + r2.stderr).toMatch(/order-placed\.yaml:1: .*transactionTopic/);
  });
});
