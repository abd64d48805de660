// The bad-input catalogue: each bad record becomes a dead letter with a clear message, the run goes on,
// and the reconciliation holds (nothing lost).
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { replayCommand } from "../../src/cli/replay.js";
import { TransformSet } from "../../src/map/mapper.js";
import { RecordProcessor } from "../../src/worker/record-processor.js";
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

function project(limits = "{ maxRecordBytes: 20000 }"): string {
  return tempProject({
    "changecast.yaml": [
      "pipeline: badinput",
      "source: { connector: postgres, topicPrefix: dbserver1, format: json }",
      "errors: { tolerance: all, deadLetterTopic: badinput.dlq }",
      `limits: ${limits}`,
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

/** Edits a fixture's value as text (exact: for what JSON.parse would lose). */
function editText(base: string, edit: (valueText: string) => string): string {
  const line = JSON.parse(fixtureLine("postgres", base)) as { topic: string; key: string; payload: string };
  const text = edit(line.payload);
  if (text === line.payload) throw new Error("edit changed nothing");
  return kcatLine(line.topic, 0, line.key, text);
}

interface Line {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  value?: Record<string, unknown>;
  payload?: string | null;
}

async function replay(dir: string, lines: string[]): Promise<{ out: Line[]; err: string[]; code: number }> {
  return replayRaw(dir, lines.join("\n") + "\n");
}

/** Replays input given as exact text or bytes (BOM, CR, invalid UTF-8 …). */
async function replayRaw(
  dir: string,
  text: string | Buffer,
): Promise<{ out: Line[]; err: string[]; code: number }> {
  const input = new PassThrough();
  input.end(text);
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
  const cases: {
    name: string;
    line: () => string;
    stage: string;
    message: RegExp;
    /** the dead letter's class and code headers, where the case pins them */
    className?: string;
    code?: string;
    /** what the dead letter carries: the record's payload (default), or the input line */
    copies?: "line";
  }[] = [
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
      className: "changecast.CoercionError",
      code: "ENCODE_COERCION",
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
      className: "changecast.CoercionError",
      code: "ENCODE_COERCION",
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
      // rejected while read: the line, not a decoded record
      copies: "line",
    },
    {
      name: "source.ts_ms beyond the JS Date range",
      line: () => editValue("05-create", (v) => ((v.payload.source as Record<string, unknown>).ts_ms = 1e17)),
      stage: "DECODE",
      message: /source\.ts_ms/,
    },
    {
      name: "a negative source.ts_ms",
      line: () => editValue("05-create", (v) => ((v.payload.source as Record<string, unknown>).ts_ms = -5)),
      stage: "DECODE",
      message: /source\.ts_ms/,
    },
    {
      name: "an update with neither before nor after image",
      line: () =>
        editValue("05-create", (v) => {
          v.payload.op = "u";
          v.payload.after = null;
        }),
      stage: "DECODE",
      message: /"u".*(before|after)/,
    },
    {
      name: "a create without after image",
      line: () => editValue("05-create", (v) => (v.payload.after = null)),
      stage: "DECODE",
      message: /"c".*after/,
    },
    {
      name: "an unknown op letter",
      line: () => editValue("05-create", (v) => (v.payload.op = "x")),
      stage: "DECODE",
      message: /op.*"x"/,
    },
    {
      name: "an object without op on a data topic (heartbeat-shaped)",
      line: () => kcatLine("dbserver1.inventory.customers", 0, null, '{"ts_ms":1710497000000}'),
      stage: "DECODE",
      message: /"op"/,
    },
    {
      name: "an object without op on a data topic (transaction-shaped)",
      line: () =>
        kcatLine(
          "dbserver1.inventory.customers",
          0,
          null,
          '{"status":"BEGIN","id":"571","event_count":null}',
        ),
      stage: "DECODE",
      message: /"op"/,
    },
    {
      name: "Decimal bytes that are not base64",
      line: () =>
        editValue(
          "14-create-all-types-decimal-precise",
          (v) => ((v.payload.after as Record<string, unknown>).amount = "AeJ*A"),
        ),
      stage: "DECODE",
      message: /after\.amount.*base64/,
    },
    {
      name: "an int32 column beyond int32",
      line: () => editValue("05-create", (v) => ((v.payload.after as Record<string, unknown>).id = 2 ** 40)),
      stage: "DECODE",
      message: /after\.id.*int32/,
    },
    {
      name: "an int64 field beyond int64",
      line: () => editText("05-create", (t) => t.replace(/"txId": ?\d+/, '"txId":18446744073709551616')),
      stage: "DECODE",
      message: /source\.txId.*int64/,
    },
    {
      name: "a string with a lone surrogate escape (no UTF-8 form)",
      line: () => editText("05-create", (t) => t.replace(/"email": ?"/, '"email":"\\ud800')),
      stage: "DECODE",
      message: /after\.email.*surrogate/,
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
      // the class and code are the error's own: a code of the dead letter's stage, never re-labelled
      expect(letter.headers["changecast_error_code"]).toMatch(new RegExp(`^${c.stage}_`));
      if (c.className) expect(letter.headers["__connect.errors.exception.class.name"]).toBe(c.className);
      if (c.code) expect(letter.headers["changecast_error_code"]).toBe(c.code);
      expect(letter.headers["__connect.errors.topic"]).toBeTruthy();
      // the original payload travels with the dead letter, unchanged
      expect(letter.payload).toBe(c.copies === "line" ? bad : kcat(bad).payload);
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

/** The customers value of a fixture line, as the parsed kcat record. */
function kcat(line: string): { topic: string; key: string | null; payload: string | null } {
  return JSON.parse(line) as { topic: string; key: string | null; payload: string | null };
}

/** Bytes a dead letter puts on the wire: key, value, header names and values. */
function dlqBytes(l: Line): number {
  let n = Buffer.byteLength(l.key ?? "") + Buffer.byteLength(l.payload ?? "");
  for (const [k, v] of Object.entries(l.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

describe("hostile input, every record counted", () => {
  const good = () => fixtureLine("postgres", "05-create");

  it("a Postgres logical-decoding message (op m) is filtered, not dead-lettered", async () => {
    const message = JSON.stringify({
      op: "m",
      ts_ms: 1710497000500,
      source: {
        version: "3.6.1.Final",
        connector: "postgresql",
        name: "dbserver1",
        ts_ms: 1710497000400,
        snapshot: "false",
        db: "postgres",
        schema: "",
        table: "",
        txId: 771,
        lsn: 34084600,
      },
      message: { prefix: "audit", content: "aGVsbG8=" },
    });
    const { out, err } = await replay(project(), [
      good(),
      kcatLine("dbserver1.message", 0, null, message),
      kcatLine("dbserver1.inventory.customers", 1, null, message),
    ]);
    expect(out.filter((l) => l.topic === "badinput.dlq")).toEqual([]);
    expect(err.at(-1)).toMatch(/3 records in = 1 mapped .* \+ 2 filtered \+ 0 dead letters ✓/);
  });

  it("blank lines are skipped and reported in the reconciliation", async () => {
    const { out, err } = await replayRaw(project(), `\n${good()}\n\n  \t \n${good()}\n\n`);
    expect(out.filter((l) => l.topic === "customers")).toHaveLength(2);
    expect(err.at(-1)).toMatch(/2 records in = 2 mapped .* \+ 0 dead letters ✓.*4 blank lines skipped/);
  });

  it("a byte-order mark, CRLF line ends and bare CR between tokens are read as JSON allows", async () => {
    const crInside = good().replace('"partition":', '\r"partition":\r');
    const { out, err } = await replayRaw(project(), `\uFEFF${good()}\r\n${crInside}\r\n`);
    expect(err.filter((l) => /: dead letter:/.test(l))).toEqual([]);
    expect(out.filter((l) => l.topic === "customers")).toHaveLength(2);
    expect(err.at(-1)).toMatch(/2 records in = 2 mapped/);
  });

  it("a pretty-printed (multi-line) record is read as one record", async () => {
    const pretty = JSON.stringify(JSON.parse(good()), null, 2);
    const { out, err } = await replayRaw(project(), `${pretty}\n${good()}\n`);
    expect(out.filter((l) => l.topic === "customers")).toHaveLength(2);
    expect(err.at(-1)).toMatch(/2 records in = 2 mapped .* \+ 0 dead letters ✓/);
  });

  it("a pretty-printed value that is never closed is one dead letter, not one per line", async () => {
    const pretty = JSON.stringify(JSON.parse(good()), null, 2).split("\n");
    const cut = pretty.slice(0, -1).join("\n"); // the closing brace is missing
    const { out, err } = await replayRaw(project(), `${cut}\n${good()}\n`);
    const dlq = out.filter((l) => l.topic === "badinput.dlq");
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers["__connect.errors.exception.message"]).toMatch(/line 1.*not closed/);
    expect(err.at(-1)).toMatch(/2 records in = 1 mapped .* \+ 1 dead letters ✓/);
  });

  it("a line over limits.maxRecordBytes is rejected while reading, its dead letter truncated", async () => {
    const huge = good().replace("sally.thomas@acme.com", "x".repeat(100_000)); // unused: 05-create is jane
    const big = huge === good() ? good().replace("jane.doe@example.com", "y".repeat(100_000)) : huge;
    const { out, err } = await replay(project("{ maxRecordBytes: 20000, maxEventBytes: 8000 }"), [
      good(),
      big,
      good(),
    ]);
    const dlq = out.filter((l) => l.topic === "badinput.dlq");
    expect(dlq).toHaveLength(1);
    const letter = dlq[0]!;
    expect(letter.headers["__connect.errors.stage"]).toBe("DECODE");
    expect(letter.headers["__connect.errors.exception.message"]).toMatch(/line 2 .*maxRecordBytes \(20000\)/);
    expect(letter.headers["changecast_dlq_truncated"]).toMatch(/value: first \d+ of \d+ bytes/);
    expect(big.startsWith(letter.payload!)).toBe(true);
    expect(dlqBytes(letter)).toBeLessThanOrEqual(8000);
    expect(err.at(-1)).toMatch(/3 records in = 2 mapped .* \+ 1 dead letters ✓/);
  });

  it("a dead letter never exceeds limits.maxEventBytes: the copied payload is truncated and says so", async () => {
    const bad = editValue("05-create", (v) => {
      v.payload.op = "x";
      (v.payload.after as Record<string, unknown>).email = "z".repeat(15_000);
    });
    const { out } = await replay(project("{ maxRecordBytes: 100000, maxEventBytes: 6000 }"), [bad]);
    const letter = out[0]!;
    expect(letter.topic).toBe("badinput.dlq");
    expect(letter.headers["__connect.errors.exception.message"]).toMatch(/op/);
    expect(letter.headers["changecast_dlq_truncated"]).toMatch(/value: first \d+ of \d+ bytes/);
    expect(kcat(bad).payload!.startsWith(letter.payload!)).toBe(true);
    expect(dlqBytes(letter)).toBeLessThanOrEqual(6000);
  });

  it("invalid UTF-8 in a line is a dead letter (bytes kept exactly), never a changed value", async () => {
    const [head, tail] = good().split("jane.doe");
    const input = Buffer.concat([
      Buffer.from(good() + "\n" + head!, "utf8"),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(tail! + "\n" + good() + "\n", "utf8"),
    ]);
    const { out, err } = await replayRaw(project(), input);
    const dlq = out.filter((l) => l.topic === "badinput.dlq");
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers["__connect.errors.exception.message"]).toMatch(/line 2.*UTF-8/);
    expect(out.filter((l) => l.topic === "customers")).toHaveLength(2);
    expect(err.at(-1)).toMatch(/3 records in = 2 mapped .* \+ 1 dead letters ✓/);
  });

  it("columns named constructor, __proto__ and toString map like any other column", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: names\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
      "s.avsc": {
        type: "record",
        name: "Odd",
        fields: [
          { name: "id", type: "long" },
          { name: "c", type: ["null", "string"], default: null },
          { name: "p", type: ["null", "string"], default: null },
          { name: "t", type: ["null", "string"], default: null },
          { name: "h", type: ["null", "string"], default: null },
        ],
      },
      "t.yaml": [
        "table: inventory.odd",
        "events:",
        "  - name: Odd",
        "    schema: s.avsc",
        "    topic: odd",
        "    key: after.id",
        "    fields:",
        "      id: after.id",
        "      c: after.constructor",
        "      p: 'after[\"__proto__\"]'",
        "      t: after.toString",
        "      h: after.hasOwnProperty",
      ].join("\n"),
    });
    const after =
      '{"id":7,"constructor":"C","__proto__":"P","toString":"T","hasOwnProperty":"H","valueOf":"V"}';
    const value = `{"op":"c","source":{"connector":"postgresql","name":"dbserver1","ts_ms":1710497000000,"db":"postgres","schema":"inventory","table":"odd","lsn":1},"before":null,"after":${after}}`;
    const { out } = await replay(dir, [kcatLine("dbserver1.inventory.odd", 0, null, value)]);
    expect(
      out.map((l) => l.value ?? l.headers),
      JSON.stringify(out),
    ).toEqual([{ id: 7, c: "C", p: "P", t: "T", h: "H" }]);
  });
});

describe("event size", () => {
  it("an event whose key, value and headers together exceed limits.maxEventBytes is a dead letter", async () => {
    const dir = tempProject({
      "changecast.yaml": [
        "pipeline: keysize",
        "source: { connector: postgres, topicPrefix: dbserver1 }",
        "errors: { tolerance: all, deadLetterTopic: keysize.dlq }",
        "limits: { maxRecordBytes: 100000, maxEventBytes: 6000 }",
        "transforms: [t.yaml]",
      ].join("\n"),
      "s.avsc": { type: "record", name: "Keyed", fields: [{ name: "id", type: "long" }] },
      "t.yaml":
        "table: inventory.customers\nevents:\n  - name: Keyed\n    schema: s.avsc\n    topic: keyed\n    key: after.email\n    fields: { id: after.id }\n",
    });
    const big = editValue(
      "05-create",
      (v) => ((v.payload.after as Record<string, unknown>).email = "k".repeat(7000)),
    );
    const { out } = await replay(dir, [fixtureLine("postgres", "05-create"), big]);
    expect(out.map((l) => l.topic)).toEqual(["keyed", "keysize.dlq"]);
    expect(out[1]!.headers["__connect.errors.exception.message"]).toMatch(
      /event Keyed of \d+ bytes \(key, value and headers\) exceeds limits\.maxEventBytes \(6000\)/,
    );
    expect(out[1]!.headers["__connect.errors.stage"]).toBe("ENCODE");
    expect(out[1]!.headers["__connect.errors.exception.class.name"]).toBe("changecast.RecordTooLargeError");
    expect(out[1]!.headers["changecast_error_code"]).toBe("ENCODE_TOO_LARGE");
  });
});

describe("dead letters name the error's own class, stage and code", () => {
  it("an expression over a CEL evaluation limit: MappingError, MAP, MAP_EVALUATION_LIMIT", async () => {
    const dir = tempProject({
      "changecast.yaml": [
        "pipeline: limits",
        "source: { connector: postgres, topicPrefix: dbserver1 }",
        "errors: { tolerance: all, deadLetterTopic: limits.dlq }",
        "limits: { maxRecordBytes: 1000000, maxEventBytes: 1000000 }",
        "transforms: [t.yaml]",
      ].join("\n"),
      "s.avsc": { type: "record", name: "Matched", fields: [{ name: "ok", type: "boolean" }] },
      "t.yaml":
        "table: inventory.customers\nevents:\n  - name: Matched\n    schema: s.avsc\n    topic: matched\n    key: string(after.id)\n    fields: { ok: after.email.matches(after.email) }\n",
    });
    const hostile = editValue(
      "05-create",
      (v) => ((v.payload.after as Record<string, unknown>).email = "a".repeat(300_000)),
    );
    const { out } = await replay(dir, [fixtureLine("postgres", "05-create"), hostile]);
    expect(out.map((l) => l.topic)).toEqual(["matched", "limits.dlq"]);
    const headers = out[1]!.headers;
    expect(headers["__connect.errors.stage"]).toBe("MAP");
    expect(headers["__connect.errors.exception.class.name"]).toBe("changecast.MappingError");
    expect(headers["changecast_error_code"]).toBe("MAP_EVALUATION_LIMIT");
    expect(headers["__connect.errors.exception.message"]).toMatch(/evaluation stopped/);
  });
});

describe("maps with hostile keys", () => {
  it("a map column keyed __proto__ / constructor reaches an Avro map unchanged", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: maps\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
      "s.avsc": {
        type: "record",
        name: "Attrs",
        fields: [
          { name: "id", type: "long" },
          { name: "attrs", type: { type: "map", values: "string" } },
        ],
      },
      "t.yaml":
        "table: inventory.attrs\nevents:\n  - name: Attrs\n    schema: s.avsc\n    topic: attrs\n    key: after.id\n    fields: { id: after.id, attrs: after.attrs }\n",
    });
    const attrs = '{"__proto__":"P","constructor":"C","toString":"T","a":"b"}';
    const value = `{"op":"c","source":{"connector":"postgresql","name":"dbserver1","ts_ms":1710497000000,"db":"postgres","schema":"inventory","table":"attrs","lsn":1},"before":null,"after":{"id":3,"attrs":${attrs}}}`;
    const { out } = await replay(dir, [kcatLine("dbserver1.inventory.attrs", 0, null, value)]);
    expect(out.map((l) => l.value ?? l.headers)).toEqual([
      { id: 3, attrs: JSON.parse(attrs) as Record<string, string> },
    ]);
    expect(Object.keys((out[0]!.value as { attrs: object }).attrs)).toEqual([
      "__proto__",
      "constructor",
      "toString",
      "a",
    ]);
  });
});

describe("dead letters at the smallest limits", () => {
  it("at limits.maxEventBytes 1024, a dead letter with many source headers and a long message still fits", async () => {
    const headers = Array.from({ length: 40 }, (_, i) => [`h${i}`, "v".repeat(100)]).flat();
    // no transform for the table: the message names it, all 3000 characters
    const base = editValue(
      "05-create",
      (v) => ((v.payload.source as Record<string, unknown>).table = "t".repeat(3000)),
    );
    const line = JSON.stringify({ ...(JSON.parse(base) as object), headers });
    const { out } = await replay(project("{ maxRecordBytes: 100000, maxEventBytes: 1024 }"), [line]);
    const letter = out[0]!;
    expect(letter.topic).toBe("badinput.dlq");
    expect(letter.headers["__connect.errors.stage"]).toBe("ROUTE");
    expect(letter.headers["changecast_dlq_truncated"]).toMatch(/source headers: 40 dropped/);
    expect(dlqBytes(letter)).toBeLessThanOrEqual(1024);
  });

  it("a limits.maxEventBytes too small for any dead letter is a config problem", async () => {
    await expect(replay(project("{ maxEventBytes: 100 }"), [])).rejects.toThrow(
      /limits\.maxEventBytes: "100" .*at least 1024/,
    );
  });
});

describe("event fields with hostile names", () => {
  it("event fields named __proto__, constructor and toString are filled like any other", async () => {
    const dir = tempProject({
      "changecast.yaml":
        "pipeline: names\nsource: { connector: postgres, topicPrefix: dbserver1 }\ntransforms: [t.yaml]\n",
      "s.avsc": {
        type: "record",
        name: "Odd",
        fields: [
          { name: "id", type: "long" },
          { name: "constructor", type: "string" },
          { name: "toString", type: "string" },
          { name: "__proto__", type: "string" },
        ],
      },
      "t.yaml": [
        "table: inventory.odd",
        "events:",
        "  - name: Odd",
        "    schema: s.avsc",
        "    topic: odd",
        "    key: after.id",
        "    fields:",
        "      id: after.id",
        "      constructor: after.constructor",
        "      toString: after.toString",
        "      __proto__: 'after[\"__proto__\"]'",
      ].join("\n"),
    });
    const value =
      '{"op":"c","source":{"connector":"postgresql","name":"dbserver1","ts_ms":1710497000000,"db":"postgres","schema":"inventory","table":"odd","lsn":1},' +
      '"before":null,"after":{"id":7,"constructor":"C","__proto__":"P","toString":"T"}}';
    const { out } = await replay(dir, [kcatLine("dbserver1.inventory.odd", 0, null, value)]);
    expect(out.map((l) => l.value ?? l.headers)).toEqual([
      JSON.parse('{"id":7,"constructor":"C","toString":"T","__proto__":"P"}') as object,
    ]);
  });
});

describe("dead letters of binary records", () => {
  it("a key and value that are not UTF-8 travel with the dead letter as exact bytes", () => {
    const p = new RecordProcessor({
      pipeline: "bin",
      transforms: new TransformSet([]),
      registrations: new Map(),
      deadLetterTopic: "bin.dlq",
      maxRecordBytes: 1000,
      maxEventBytes: 100_000,
    });
    const key = Buffer.from([0xff, 0x00, 0x01]);
    const value = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]);
    const outcome = p.process({
      topic: "t",
      partition: 0,
      offset: "5",
      timestamp: 1,
      headers: {},
      key,
      value,
    });
    expect(outcome.kind).toBe("dead-letter");
    if (outcome.kind !== "dead-letter") return;
    expect(outcome.record.record.key).toEqual(key);
    expect(outcome.record.record.value).toEqual(value);
    expect(outcome.record.view.keyBase64).toBe(key.toString("base64"));
    expect(outcome.record.view.payloadBase64).toBe(value.toString("base64"));
    expect(outcome.record.view.headers["__connect.errors.exception.message"]).toMatch(/not valid UTF-8/);
  });
});
