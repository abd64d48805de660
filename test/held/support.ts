// A small CRM/orders project for the held-change tests (dependencies, transaction aggregates): schemaless
// Debezium JSON records built by hand, so that each test states the order and timing it needs.
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { replayCommand } from "../../src/cli/replay.js";
import { tempProject } from "../support/project.js";

export interface ChangeSpec {
  table: string;
  op: "c" | "u" | "d" | "r";
  key: Record<string, unknown>;
  after?: Record<string, unknown> | null;
  before?: Record<string, unknown> | null;
  /** source commit time (ms) */
  ts: number;
  lsn: number;
  txId?: number;
  offset?: number;
  partition?: number;
}

/** A kcat line of a Debezium (Postgres, schemaless JsonConverter) change. */
export function changeLine(c: ChangeSpec): string {
  const [schema, table] = c.table.split(".");
  const value = {
    before: c.before ?? null,
    after: c.op === "d" ? null : (c.after ?? c.key),
    source: {
      version: "3.6.1.Final",
      connector: "postgresql",
      name: "dbserver1",
      ts_ms: c.ts,
      snapshot: c.op === "r" ? "true" : "false",
      db: "postgres",
      schema,
      table,
      txId: c.txId ?? c.lsn,
      lsn: c.lsn,
    },
    transaction:
      c.txId !== undefined && c.op !== "r"
        ? { id: `${c.txId}:${c.lsn}`, total_order: 1, data_collection_order: 1 }
        : null,
    op: c.op,
    ts_ms: c.ts + 5,
  };
  return JSON.stringify({
    topic: `dbserver1.${c.table}`,
    partition: c.partition ?? 0,
    offset: c.offset ?? c.lsn,
    tstype: "create",
    ts: c.ts,
    broker: 1,
    headers: [],
    key: JSON.stringify(c.key),
    payload: JSON.stringify(value),
  });
}

/** A kcat line of a transaction metadata END (or BEGIN) record. */
export function txLine(
  txId: number,
  lsn: number,
  ts: number,
  counts: Record<string, number> | null,
  offset = lsn,
): string {
  const end = counts !== null;
  const value = {
    status: end ? "END" : "BEGIN",
    id: `${txId}:${lsn}`,
    event_count: end ? Object.values(counts).reduce((a, b) => a + b, 0) : null,
    data_collections: end
      ? Object.entries(counts).map(([data_collection, event_count]) => ({ data_collection, event_count }))
      : null,
    ts_ms: ts,
  };
  return JSON.stringify({
    topic: "dbserver1.transaction",
    partition: 0,
    offset,
    tstype: "create",
    ts,
    broker: 1,
    headers: [],
    key: JSON.stringify({ id: `${txId}:${lsn}` }),
    payload: JSON.stringify(value),
  });
}

/** A heartbeat record at source time `ts`. */
export function heartbeatLine(ts: number, offset = 0): string {
  return JSON.stringify({
    topic: "__debezium-heartbeat.dbserver1",
    partition: 0,
    offset,
    tstype: "create",
    ts,
    broker: 1,
    headers: [],
    key: JSON.stringify({ serverName: "dbserver1" }),
    payload: JSON.stringify({ ts_ms: ts }),
  });
}

const schema = (name: string, fields: { name: string; type: unknown }[]) => ({
  type: "record",
  name,
  namespace: "io.test",
  fields,
});

/** Persons (state: rows) and phones that require their person; orders with lines aggregated per transaction. */
export function crmProject(
  options: {
    requires?: string[];
    aggregate?: string[];
    config?: string[];
    top?: string[];
    pipeline?: string;
  } = {},
): string {
  return tempProject({
    "changecast.yaml": [
      `pipeline: ${options.pipeline ?? "held"}`,
      "source:",
      "  topicPrefix: dbserver1",
      "  transactionTopic: dbserver1.transaction",
      ...(options.config ?? []),
      ...(options.top ?? []),
      "transforms:",
      "  - transforms/*.yaml",
    ].join("\n"),
    "transforms/persons.yaml": [
      "table: crm.persons",
      "state: rows",
      "events:",
      "  - name: PersonChanged",
      "    schema: schemas/PersonChanged.avsc",
      "    topic: persons",
      "    key: after.id",
      "    when: op != 'd'",
      "    fields:",
      "      id: after.id",
      "      name: after.name",
    ].join("\n"),
    "transforms/phones.yaml": [
      "table: crm.phones",
      "requires:",
      ...(options.requires ?? ["  - table: crm.persons", "    key: after.person_id"]),
      "events:",
      "  - name: PhoneChanged",
      "    schema: schemas/PhoneChanged.avsc",
      "    topic: phones",
      "    key: key.id",
      "    fields:",
      "      id: key.id",
      "      op: op",
      '      personName: \'after == null || lookup("crm.persons", after.person_id) == null ? "?" : lookup("crm.persons", after.person_id).name\'',
    ].join("\n"),
    "transforms/order-placed.yaml": (
      options.aggregate ?? [
        "aggregate: inventory.orders",
        "members:",
        "  lines:",
        "    table: inventory.order_lines",
        "    match: member.after.order_id == root.after.id",
        "events:",
        "  - name: OrderPlaced",
        "    schema: schemas/OrderPlaced.avsc",
        "    topic: order-events",
        "    when: root.op == 'c' || root.op == 'r'",
        "    key: root.after.id",
        "    fields:",
        "      orderId: root.after.id",
        "      txId: 'tx == null ? \"\" : tx.id'",
        '      lines: \'lines.map(l, {"productId": l.after.product_id, "quantity": l.after.quantity})\'',
      ]
    ).join("\n"),
    "schemas/PersonChanged.avsc": schema("PersonChanged", [
      { name: "id", type: "long" },
      { name: "name", type: "string" },
    ]),
    "schemas/PhoneChanged.avsc": schema("PhoneChanged", [
      { name: "id", type: "long" },
      { name: "op", type: "string" },
      { name: "personName", type: "string" },
    ]),
    "schemas/OrderPlaced.avsc": schema("OrderPlaced", [
      { name: "orderId", type: "long" },
      { name: "txId", type: "string" },
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
    ]),
  });
}

export interface Printed {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  value?: Record<string, unknown>;
}

/** `changecast replay` of the lines: the printed records and the stderr lines. */
export async function replay(
  dir: string,
  lines: string[],
): Promise<{ code: number; out: Printed[]; err: string[] }> {
  const stream = new PassThrough();
  stream.end(lines.join("\n") + "\n");
  const out: string[] = [];
  const err: string[] = [];
  const code = await replayCommand(
    { config: join(dir, "changecast.yaml"), input: "-" },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    stream,
  );
  return { code, out: out.map((l) => JSON.parse(l) as Printed), err };
}

export const person = (id: number, name: string, lsn: number, ts = 1_000_000 + lsn) =>
  changeLine({ table: "crm.persons", op: "c", key: { id }, after: { id, name }, ts, lsn });
export const phone = (
  id: number,
  personId: number,
  lsn: number,
  op: "c" | "u" | "d" = "c",
  ts = 1_000_000 + lsn,
) =>
  changeLine({
    table: "crm.phones",
    op,
    key: { id },
    after: { id, person_id: personId, number: `555-${id}` },
    before: op === "d" ? { id, person_id: personId, number: `555-${id}` } : null,
    ts,
    lsn,
  });

export const order = (id: number, txId: number, lsn: number, ts = 2_000_000, op: "c" | "r" | "u" = "c") =>
  changeLine({ table: "inventory.orders", op, key: { id }, after: { id, customer: 7 }, ts, lsn, txId });
export const line = (id: number, orderId: number, txId: number, lsn: number, ts = 2_000_000) =>
  changeLine({
    table: "inventory.order_lines",
    op: "c",
    key: { id },
    after: { id, order_id: orderId, product_id: 100 + id, quantity: id },
    ts,
    lsn,
    txId,
  });
