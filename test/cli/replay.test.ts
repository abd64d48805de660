// `changecast replay` on the Debezium fixtures: docs/records.md output with every logical type rendered exactly.
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { replayCommand } from "../../src/cli/replay.js";
import { fixtureLine, readFixture, tempProject } from "../support/project.js";

const allTypes = {
  type: "record",
  name: "OrderSnapshot",
  namespace: "io.test",
  fields: [
    { name: "id", type: "long" },
    { name: "uuid", type: { type: "string", logicalType: "uuid" } },
    {
      name: "status",
      type: { type: "enum", name: "Status", symbols: ["NEW", "PAID", "SHIPPED", "CANCELLED"] },
    },
    { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
    {
      name: "taxRate",
      type: ["null", { type: "bytes", logicalType: "decimal", precision: 10, scale: 4 }],
      default: null,
    },
    {
      name: "discount",
      type: ["null", { type: "bytes", logicalType: "decimal", precision: 10, scale: 2 }],
      default: null,
    },
    { name: "orderDate", type: { type: "int", logicalType: "date" } },
    { name: "createdAt", type: { type: "long", logicalType: "timestamp-micros" } },
    { name: "createdAtMs", type: ["null", { type: "long", logicalType: "timestamp-millis" }], default: null },
    { name: "updatedAt", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
    { name: "channel", type: ["null", "string"], default: null },
    { name: "tags", type: { type: "array", items: "string" } },
    { name: "quantities", type: { type: "array", items: "int" } },
    { name: "gift", type: "boolean" },
    { name: "committedAt", type: { type: "long", logicalType: "timestamp-millis" } },
  ],
};

const transform = [
  "table: inventory.purchase_orders",
  "events:",
  "  - name: OrderSnapshot",
  "    schema: OrderSnapshot.avsc",
  "    topic: orders",
  "    key: after.id",
  "    fields:",
  "      id: after.id",
  "      uuid: after.order_uuid",
  "      status: after.status",
  "      amount: after.amount",
  "      taxRate: after.tax_rate",
  "      discount: after.discount",
  "      orderDate: after.order_date",
  "      createdAt: after.created_at",
  "      createdAtMs: after.created_at_ms",
  "      updatedAt: after.updated_at",
  "      channel: after.attributes.channel",
  "      tags: after.tags",
  "      quantities: after.quantities",
  "      gift: after.is_gift",
  "      committedAt: source.ts_ms",
].join("\n");

function project(): string {
  return tempProject({
    "changecast.yaml":
      "pipeline: replaytest\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
    "OrderSnapshot.avsc": allTypes,
    "t.yaml": transform,
  });
}

async function replay(dir: string, input: string, topic?: string) {
  const stream = new PassThrough();
  stream.end(input);
  const out: string[] = [];
  const err: string[] = [];
  const code = await replayCommand(
    { config: join(dir, "changecast.yaml"), input: "-", ...(topic ? { topic } : {}) },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    stream,
  );
  return { code, out, err };
}

// Values from the fixture's SQL (index.json): INSERT … ('a0eebc99-…','PAID',1234.56,0.0825,'$5.00','2024-03-15',
// '2024-03-15 10:15:30.123456','2024-03-15 10:15:30.123','2024-03-15 11:15:30.123456+01', '{"channel": "web", …}',
// …,'{priority,b2b}','{1,2,3}',true); source.ts_ms 1710497311110
const expected = {
  id: 1,
  uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  status: "PAID",
  amount: "1234.56",
  taxRate: "0.0825",
  discount: "5.00",
  orderDate: "2024-03-15",
  createdAt: "2024-03-15T10:15:30.123456Z",
  createdAtMs: "2024-03-15T10:15:30.123Z",
  updatedAt: "2024-03-15T10:15:30.123456Z",
  channel: "web",
  tags: ["priority", "b2b"],
  quantities: [1, 2, 3],
  gift: true,
  committedAt: "2024-03-15T10:08:31.110Z",
};

describe("changecast replay", () => {
  it("prints docs/records.md lines for a kcat dump of the all-types fixture", async () => {
    const { code, out } = await replay(
      project(),
      fixtureLine("postgres", "14-create-all-types-decimal-precise") + "\n",
    );
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      topic: "orders",
      key: "1",
      subject: "orders-io.test.OrderSnapshot",
      version: 1,
      value: expected,
    });
    const headers = line.headers as Record<string, string>;
    expect(headers).toMatchObject({
      ce_specversion: "1.0",
      ce_type: "io.test.OrderSnapshot",
      ce_source: "changecast/replaytest/inventory.purchase_orders",
      ce_time: "2024-03-15T10:08:31.110Z",
      "content-type": "application/avro",
      changecast_position: "postgresql:34084288:34084504:0",
    });
    expect(headers.ce_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("accepts a bare Debezium value line with --topic, and gives the same ce_id as its kcat form", async () => {
    const dir = project();
    const bare = readFixture("postgres", "14-create-all-types-decimal-precise.value.json")!.replace(
      /\n\s*/g,
      " ",
    );
    const viaTopic = await replay(dir, bare + "\n", "dbserver1.inventory.purchase_orders");
    const viaKcat = await replay(dir, fixtureLine("postgres", "14-create-all-types-decimal-precise") + "\n");
    const a = JSON.parse(viaTopic.out[0]!) as { value: unknown; headers: { ce_id: string } };
    const b = JSON.parse(viaKcat.out[0]!) as { value: unknown; headers: { ce_id: string } };
    expect(a.value).toEqual(expected);
    expect(a.headers.ce_id).toBe(b.headers.ce_id);
  });

  it("renders the same values from decimal.handling.mode=string", async () => {
    const { out } = await replay(
      project(),
      fixtureLine("postgres", "16-create-all-types-decimal-string") + "\n",
    );
    expect((JSON.parse(out[0]!) as { value: unknown }).value).toMatchObject({
      amount: "1234.56",
      taxRate: "0.0825",
      discount: "5.00",
    });
  });

  it("accepts decimal.handling.mode=double values that fit the decimal field exactly", async () => {
    // 0.0825 as a double is exactly representable in 4 digits: accepted; 1234.56 likewise in 2
    const { out } = await replay(
      project(),
      fixtureLine("postgres", "15-create-all-types-decimal-double") + "\n",
    );
    expect((JSON.parse(out[0]!) as { value: unknown }).value).toMatchObject({
      amount: "1234.56",
      taxRate: "0.0825",
    });
  });

  it("keeps int64 beyond 2^53 exact from input to printed output", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: big\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
      "Big.avsc": {
        type: "record",
        name: "Big",
        fields: [
          { name: "id", type: "long" },
          { name: "tsNs", type: "long" },
        ],
      },
      "t.yaml":
        "table: inventory.customers\nevents:\n  - name: Big\n    schema: Big.avsc\n    topic: big\n    key: after.id\n    fields: { id: after.id, tsNs: source.ts_ns }\n",
    });
    // the id column declared int64 (an int32 column cannot hold the value: a DecodeError)
    const line = fixtureLine("postgres", "05-create")
      .replace(/\\"id\\": 1005/g, '\\"id\\": 9223372036854775807')
      .replace(/\\"type\\": \\"int32\\"/g, '\\"type\\": \\"int64\\"');
    const { out } = await replay(dir, line + "\n");
    expect(out[0]).toContain('"key":"9223372036854775807"');
    expect(out[0]).toMatch(/"value":\{"id":9223372036854775807,"tsNs":\d{19}\}/);
    const tsNs = /"tsNs":(\d+)/.exec(out[0]!)![1]!;
    expect(JSON.parse(line).payload).toContain(`"ts_ns": ${tsNs}`);
  });
});

describe("changecast replay (Oracle)", () => {
  const schema = {
    type: "record",
    name: "PurchaseOrderRecorded",
    namespace: "io.test",
    fields: [
      { name: "id", type: "int" },
      { name: "orderNo", type: "string" },
      { name: "customer", type: ["null", "string"], default: null },
      { name: "status", type: "string" },
      { name: "lines", type: "int" },
      { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
      { name: "taxRate", type: { type: "bytes", logicalType: "decimal", precision: 10, scale: 4 } },
      { name: "bigCounter", type: { type: "bytes", logicalType: "decimal", precision: 38, scale: 0 } },
      { name: "weight", type: "double" },
      { name: "orderDate", type: { type: "int", logicalType: "date" } },
      { name: "orderedAt", type: { type: "long", logicalType: "timestamp-millis" } },
      { name: "createdAt", type: { type: "long", logicalType: "timestamp-micros" } },
      { name: "updatedAt", type: { type: "long", logicalType: "timestamp-micros" } },
      { name: "checksum", type: { type: "fixed", name: "Md5", size: 16 } },
    ],
  };
  const transform = [
    "table: DEBEZIUM.PURCHASE_ORDERS",
    "events:",
    "  - name: PurchaseOrderRecorded",
    "    schema: s.avsc",
    "    topic: orders",
    "    key: after.ID",
    "    fields:",
    "      id: after.ID",
    "      orderNo: after.ORDER_NO",
    "      customer: after.CUSTOMER_NAME",
    "      status: after.STATUS.trim()",
    "      lines: after.LINE_COUNT",
    "      amount: after.AMOUNT",
    "      taxRate: after.TAX_RATE",
    "      bigCounter: after.BIG_COUNTER",
    "      weight: after.WEIGHT",
    "      orderDate: after.ORDER_DATE.substring(0, 10)",
    "      orderedAt: after.ORDER_DATE",
    "      createdAt: after.CREATED_AT",
    "      updatedAt: after.UPDATED_AT",
    "      checksum: after.CHECKSUM",
  ].join("\n");

  it("decodes NUMBER, DATE, TIMESTAMP WITH TIME ZONE, CHAR and RAW as the SQL implies", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: ora\nsource: { connector: oracle, topicPrefix: server1 }\ntransforms: [t.yaml]\n",
      "s.avsc": schema,
      "t.yaml": transform,
    });
    const { out, err } = await replay(
      dir,
      fixtureLine("oracle", "11-create-all-types-decimal-precise") + "\n",
    );
    expect(err.at(-1)).toMatch(/0 dead letters ✓/);
    const line = JSON.parse(out[0]!) as { key: string; value: unknown; headers: Record<string, string> };
    expect(line.key).toBe("1");
    // SQL: VALUES (1,'PO-2024-0001',N'Zoë Müller','PAID',3,42,1234.56,0.0825,12345678901234567890,2.5d,
    // TO_DATE('2024-03-15 10:15:30'),TIMESTAMP '2024-03-15 10:15:30.123456',
    // TIMESTAMP '2024-03-15 11:15:30.123456 +01:00', …, HEXTORAW('00112233445566778899AABBCCDDEEFF'))
    expect(line.value).toEqual({
      id: 1,
      orderNo: "PO-2024-0001",
      customer: "Zoë Müller",
      status: "PAID",
      lines: 3,
      amount: "1234.56",
      taxRate: "0.0825",
      bigCounter: "12345678901234567890",
      weight: 2.5,
      orderDate: "2024-03-15",
      orderedAt: "2024-03-15T10:15:30.000Z",
      createdAt: "2024-03-15T10:15:30.123456Z",
      updatedAt: "2024-03-15T10:15:30.123456Z",
      checksum: Buffer.from("00112233445566778899AABBCCDDEEFF", "hex").toString("base64"),
    });
    expect(line.headers.changecast_position).toMatch(/^oracle:\d+:\d+:\d+:0x[0-9a-f.]+\/\d+$/);
  });
});
