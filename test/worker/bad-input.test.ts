// The bad-input catalogue: each bad record becomes a dead letter with a clear message, the run goes on,
// and the reconciliation holds (nothing lost).
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { replayCommand } from "../../src/cli/replay.js";
import { fixtureLine, kcatLine, tempProject } from "../support/project.js";

const customerSchema = {
  type: "record",
  name: "CustomerRegistered",
  namespace: "io.test",
  fields: [
    { name: "customerId", type: "long" },
    { name: "email", type: "string" },
  ],
};
const touchedSchema = {
  type: "record",
  name: "CustomerTouched",
  namespace: "io.test",
  fields: [
    { name: "customerId", type: "long" },
    { name: "previousEmail", type: "string" },
  ],
};
const orderSchema = {
  type: "record",
  name: "OrderRecorded",
  namespace: "io.test",
  fields: [
    { name: "orderId", type: "long" },
    { name: "amount", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
  ],
};

function project(): string {
  return tempProject({
    "changecast.yaml": [
      "pipeline: badinput",
      "source: { connector: postgres, topicPrefix: dbserver1, format: json }",
      "errors: { tolerance: all, deadLetterTopic: badinput.dlq }",
      "limits: { maxRecordBytes: 20000 }",
      "transforms: [transforms/*.yaml]",
    ].join("\n"),
    "schemas/CustomerRegistered.avsc": customerSchema,
    "schemas/CustomerTouched.avsc": touchedSchema,
    "schemas/OrderRecorded.avsc": orderSchema,
    "transforms/customers.yaml": [
      "table: inventory.customers",
      "events:",
      "  - name: CustomerRegistered",
      "    schema: schemas/CustomerRegistered.avsc",
      "    topic: customers",
      '    when: op == "c" || op == "r"',
      "    key: after.id",
      "    fields: { customerId: after.id, email: after.email }",
      "  - name: CustomerTouched",
      "    schema: schemas/CustomerTouched.avsc",
      "    topic: customers",
      '    when: op == "u"',
      "    key: after.id",
      "    fields: { customerId: after.id, previousEmail: before.email }",
    ].join("\n"),
    "transforms/orders.yaml": [
      "table: inventory.purchase_orders",
      "events:",
      "  - name: OrderRecorded",
      "    schema: schemas/OrderRecorded.avsc",
      "    topic: orders",
      "    key: after.id",
      "    fields: { orderId: after.id, amount: after.amount }",
    ].join("\n"),
  });
}

/** Edits a fixture's value JSON (parsed without care for int64 precision: only test data). */
function editValue(
  base: string,
  edit: (v: { schema: Record<string, unknown>; payload: Record<string, unknown> }) => void,
): string {
  const line = JSON.parse(fixtureLine("postgres", base)) as { topic: string; key: string; payload: string };
  const value = JSON.parse(line.payload) as {
    schema: Record<string, unknown>;
    payload: Record<string, unknown>;
  };
  edit(value);
  return kcatLine(line.topic, 0, line.key, JSON.stringify(value));
}

interface Line {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  value?: Record<string, unknown>;
  payload?: string | null;
}

async function replay(dir: string, lines: string[]): Promise<{ out: Line[]; err: string[]; code: number }> {
  const input = new PassThrough();
  input.end(lines.join("\n") + "\n");
  const out: Line[] = [];
  const err: string[] = [];
  const code = await replayCommand(
    { config: join(dir, "changecast.yaml"), input: "-" },
    { out: (l) => out.push(JSON.parse(l) as Line), err: (l) => err.push(l) },
    input,
  );
  return { out, err, code };
}

const big = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  if (parseInt(hex[0]!, 16) >= 8) hex = "00" + hex;
  return Buffer.from(hex, "hex").toString("base64");
};

describe("bad input catalogue", () => {
  const good = () => fixtureLine("postgres", "05-create");
  const cases: { name: string; line: () => string; stage: string; message: RegExp }[] = [
    {
      name: "payload that is not JSON",
      line: () => kcatLine("dbserver1.inventory.customers", 0, null, "{not json"),
      stage: "DECODE",
      message: /JSON/i,
    },
    {
      name: "JSON that is not a Debezium envelope",
      line: () => kcatLine("dbserver1.inventory.customers", 0, null, '{"hello":"world"}'),
      stage: "DECODE",
      message: /envelope|op/i,
    },
    {
      name: "a column missing from the row",
      line: () =>
        editValue("05-create", (v) => {
          const after = v.payload.after as Record<string, unknown>;
          delete after.email;
          const fields = (v.schema.fields as { field: string; fields: { field: string }[] }[]).find(
            (f) => f.field === "after",
          )!;
          fields.fields = fields.fields.filter((f) => f.field !== "email");
        }),
      stage: "MAP",
      message: /email/,
    },
    {
      name: "10^40 into decimal(12,2)",
      line: () =>
        editValue(
          "14-create-all-types-decimal-precise",
          (v) => ((v.payload.after as Record<string, unknown>).amount = big(10n ** 42n)),
        ),
      stage: "ENCODE",
      message: /amount.*decimal\(12,2\)|decimal\(12,2\).*amount/,
    },
    {
      name: "a string into long",
      line: () =>
        editValue("05-create", (v) => {
          (v.payload.after as Record<string, unknown>).id = "abc";
          const after = (
            v.schema.fields as {
              field: string;
              fields: { field: string; type: string; default?: unknown }[];
            }[]
          ).find((f) => f.field === "after")!;
          after.fields.find((f) => f.field === "id")!.type = "string";
          delete after.fields.find((f) => f.field === "id")!.default;
        }),
      stage: "ENCODE",
      message: /customerId/,
    },
    {
      name: "a CEL null dereference (update without before image)",
      line: () => fixtureLine("postgres", "06-update-replica-identity-default"),
      stage: "MAP",
      message: /CustomerTouched.*previousEmail/,
    },
    {
      name: "an oversize record",
      line: () =>
        editValue(
          "05-create",
          (v) => ((v.payload.after as Record<string, unknown>).email = "x".repeat(30000)),
        ),
      stage: "DECODE",
      message: /maxRecordBytes/,
    },
    {
      name: "a table without transform",
      line: () => fixtureLine("postgres", "13-update-unchanged-toast"),
      stage: "ROUTE",
      message: /inventory\.documents/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: dead letter with a clear message, the run continues`, async () => {
      const bad = c.line();
      const { out, err, code } = await replay(project(), [good(), bad, good()]);
      expect(code).toBe(0);
      const dlq = out.filter((l) => l.topic === "badinput.dlq");
      expect(dlq).toHaveLength(1);
      const letter = dlq[0]!;
      expect(
        letter.headers["__connect.errors.stage"],
        letter.headers["__connect.errors.exception.message"],
      ).toBe(c.stage);
      expect(letter.headers["__connect.errors.exception.message"]).toMatch(c.message);
      expect(letter.headers["__connect.errors.topic"]).toBeTruthy();
      // the original payload travels with the dead letter, unchanged
      expect(letter.payload).toBe(JSON.parse(bad).payload);
      // the good records around it are still published
      expect(out.filter((l) => l.topic === "customers")).toHaveLength(2);
      expect(err.at(-1)).toMatch(/3 records in = 2 mapped .* \+ 0 filtered \+ 1 dead letters ✓/);
    });
  }

  it("unavailable (unchanged TOAST) column mapped to a field is a dead letter, not data", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: toast\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
      "s.avsc": {
        type: "record",
        name: "DocumentChanged",
        fields: [
          { name: "id", type: "long" },
          { name: "body", type: ["null", "string"], default: null },
        ],
      },
      "t.yaml":
        "table: inventory.documents\nevents:\n  - name: DocumentChanged\n    schema: s.avsc\n    topic: docs\n    key: after.id\n    fields: { id: after.id, body: after.body }\n",
    });
    const { out } = await replay(dir, [fixtureLine("postgres", "13-update-unchanged-toast")]);
    expect(out).toHaveLength(1);
    expect(out[0]!.topic).toBe("changecast.toast.dlq");
    expect(out[0]!.headers["__connect.errors.exception.message"]).toMatch(/unavailable/);
  });

  it("tombstones, truncates and heartbeats are filtered, never dead letters", async () => {
    const lines = [
      fixtureLine("postgres", "08-delete-replica-identity-default-tombstone"),
      fixtureLine("postgres", "12-truncate"),
      fixtureLine("postgres", "20-heartbeat"),
      fixtureLine("postgres", "17-transaction-begin"),
    ];
    const { out, err } = await replay(project(), lines);
    expect(out).toEqual([]);
    expect(err.at(-1)).toMatch(/4 records in = 0 mapped \(0 events out\) \+ 4 filtered \+ 0 dead letters ✓/);
  });
});
