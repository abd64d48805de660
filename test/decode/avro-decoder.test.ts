// DebeziumAvroDecoder: every fixture record, re-encoded the way Confluent's AvroConverter writes it (Avro body
// under the registered schema, Confluent wire header), decodes to exactly what decodeDebeziumJson makes of the
// JsonConverter original; plus direct value checks from the fixtures' SQL and TYPES.md, and bad input.
import { describe, expect, it } from "vitest";
import {
  DecodeError,
  UNAVAILABLE,
  type ChangeEvent,
  type DecodedRecord,
  type SourceRecord,
} from "../../src/decode/change-event.js";
import { DebeziumAvroDecoder } from "../../src/decode/debezium-avro.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { stringifyJson } from "../../src/decode/json-text.js";
import {
  connectSchemaOf,
  deriveAvroSchema,
  OTHER_DECIMAL_MODE,
  Registry,
  shippedSchema,
  toAvroBytes,
  type ConnectSchema,
} from "../support/avro-converter.js";
import { loadFixtures, type FixtureRecord } from "./fixtures.js";

interface Converted {
  record: SourceRecord;
  /** which schema encoded the value: the shipped .avsc or one derived from the Connect schema */
  valueSchema: "shipped" | "derived" | "none";
}

function convert(connector: "postgres" | "oracle", f: FixtureRecord, registry: Registry): Converted {
  const useShipped = !OTHER_DECIMAL_MODE.test(f.valueFile);
  const topic = f.record.topic;
  const key = toAvroBytes(
    f.keyText,
    useShipped ? shippedSchema(connector, topic, "key") : undefined,
    registry,
  );
  const value = toAvroBytes(
    f.valueText,
    useShipped ? shippedSchema(connector, topic, "value") : undefined,
    registry,
  );
  return { record: { ...f.record, key: key.bytes, value: value.bytes }, valueSchema: value.used };
}

const CONNECTORS = [
  { connector: "postgres", prefix: "dbserver1", count: 20 },
  { connector: "oracle", prefix: "server1", count: 17 },
] as const;

// ---- fixture parity ---------------------------------------------------------------------------------------

describe.each(CONNECTORS)("$connector fixtures through AvroConverter", ({ connector, prefix, count }) => {
  const fixtures = loadFixtures(connector);
  const registry = new Registry();
  const converted = fixtures.map((f) => ({ f, ...convert(connector, f, registry) }));

  it("uses the shipped .avsc wherever the fixtures have one for the table and mode", () => {
    expect(fixtures).toHaveLength(count);
    const shippedTables = converted.filter((c) => c.valueSchema === "shipped").map((c) => c.f.record.topic);
    // customers, purchase_orders (precise) and — for Postgres — the dbserver1 transaction and heartbeat topics
    expect(new Set(shippedTables).size).toBe(connector === "postgres" ? 4 : 2);
  });

  it("the AvroData stand-in reproduces every shipped .avsc it is used in place of", () => {
    for (const f of fixtures) {
      if (OTHER_DECIMAL_MODE.test(f.valueFile)) continue;
      for (const [part, text] of [
        ["key", f.keyText],
        ["value", f.valueText],
      ] as const) {
        const shipped = shippedSchema(connector, f.record.topic, part);
        if (shipped === undefined || text === null) continue;
        expect(deriveAvroSchema(connectSchemaOf(text)), `${f.valueFile} ${part}`).toEqual(shipped);
      }
    }
  });

  it("decodes every record exactly as decodeDebeziumJson decodes its JsonConverter original", async () => {
    const decoder = new DebeziumAvroDecoder(registry.schemaById, { topicPrefix: prefix });
    await decoder.prefetch(converted.map((c) => c.record));
    for (const c of converted) {
      const fromJson = decodeDebeziumJson(c.f.record, { topicPrefix: prefix });
      expect(decoder.decode(c.record), c.f.valueFile).toStrictEqual(fromJson);
    }
  });

  it("agrees without a topic prefix too (recognition by schema name, shape and topic)", async () => {
    const decoder = new DebeziumAvroDecoder(registry.schemaById);
    await decoder.prefetch(converted.map((c) => c.record));
    for (const c of converted) {
      expect(decoder.decode(c.record), c.f.valueFile).toStrictEqual(decodeDebeziumJson(c.f.record));
    }
  });
});

// ---- direct value checks (expectations from index.json's SQL and TYPES.md) --------------------------------

async function decodedFixtures(connector: "postgres" | "oracle"): Promise<Map<string, DecodedRecord>> {
  const registry = new Registry();
  const fixtures = loadFixtures(connector);
  const records = fixtures.map((f) => convert(connector, f, registry).record);
  const decoder = new DebeziumAvroDecoder(registry.schemaById);
  await decoder.prefetch(records);
  return new Map(fixtures.map((f, i) => [f.valueFile, decoder.decode(records[i] as SourceRecord)]));
}

function changeOf(decoded: Map<string, DecodedRecord>, file: string): ChangeEvent {
  const d = decoded.get(file);
  if (d?.kind !== "change") throw new Error(`${file}: expected a change, got ${d?.kind}`);
  return d.event;
}

describe("postgres values decoded from Avro", async () => {
  const decoded = await decodedFixtures("postgres");

  it("all-types row, decimal.handling.mode=precise", () => {
    const e = changeOf(decoded, "14-create-all-types-decimal-precise.value.json");
    expect(e.op).toBe("c");
    expect(e.table).toBe("inventory.purchase_orders");
    expect(e.key).toStrictEqual({ id: 1n });
    expect(e.after).toStrictEqual({
      id: 1n,
      order_uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      status: "PAID",
      amount: "1234.56", // NUMERIC(12,2)
      tax_rate: "0.0825", // NUMERIC → VariableScaleDecimal
      discount: "5.00", // MONEY '$5.00', scale 2
      order_date: "2024-03-15",
      created_at: "2024-03-15T10:15:30.123456Z",
      created_at_ms: "2024-03-15T10:15:30.123Z",
      updated_at: "2024-03-15T10:15:30.123456Z", // '…11:15:30.123456+01' normalised to UTC
      attributes: { gift: true, channel: "web" },
      raw_payload: { source: "api", version: 2n },
      tags: ["priority", "b2b"],
      quantities: [1n, 2n, 3n],
      is_gift: true,
    });
    // int64 beyond 2^53 stays exact
    expect(e.source.ts_ns).toBe(1710497311110402000n);
    expect(e.source.snapshot).toBe("false");
    expect(e.position.snapshot).toBe(false);
  });

  it("all-types row, decimal.handling.mode=double and string", () => {
    const d = changeOf(decoded, "15-create-all-types-decimal-double.value.json").after;
    expect(d?.amount).toBe(1234.56);
    expect(d?.tax_rate).toBe(0.0825);
    expect(d?.discount).toBe(5);
    const s = changeOf(decoded, "16-create-all-types-decimal-string.value.json").after;
    expect(s?.amount).toBe("1234.56");
    expect(s?.tax_rate).toBe("0.0825");
    expect(s?.discount).toBe("5.00");
  });

  it("unchanged TOAST columns: every placeholder form, bytea's bytes included, is UNAVAILABLE", () => {
    const e = changeOf(decoded, "13-update-unchanged-toast-columns.value.json");
    expect(e.after).toStrictEqual({
      id: 1n,
      title: "Quarterly report v2",
      body: UNAVAILABLE,
      attributes: UNAVAILABLE,
      tags: UNAVAILABLE,
      content: UNAVAILABLE,
      scores: UNAVAILABLE,
    });
  });

  it("delete, tombstone, truncate, transaction markers and heartbeat", () => {
    const del = changeOf(decoded, "07-delete-replica-identity-default.value.json");
    expect(del.op).toBe("d");
    expect(del.after).toBeNull();
    expect(del.before?.id).toBe(1003n);
    expect(decoded.get("08-delete-replica-identity-default-tombstone.value.json")).toStrictEqual({
      kind: "tombstone",
      key: { id: 1003n },
    });
    const truncate = changeOf(decoded, "12-truncate.value.json");
    expect(truncate.op).toBe("t");
    expect(truncate.key).toBeNull();
    expect(decoded.get("17-transaction-begin.value.json")).toMatchObject({
      kind: "transaction",
      status: "BEGIN",
    });
    const end = decoded.get("19-transaction-end.value.json");
    expect(end).toMatchObject({ kind: "transaction", status: "END" });
    expect(decoded.get("20-heartbeat.value.json")?.kind).toBe("heartbeat");
    const data = changeOf(decoded, "18-transaction-data-event.value.json");
    expect(data.transaction?.id).toMatch(/^\d+:\d+$/); // PG: "<txId>:<LSN>"
  });
});

describe("oracle values decoded from Avro", async () => {
  const decoded = await decodedFixtures("oracle");

  it("all-types row, decimal.handling.mode=precise", () => {
    const e = changeOf(decoded, "11-create-all-types-decimal-precise.value.json");
    expect(e.table).toBe("DEBEZIUM.PURCHASE_ORDERS");
    expect(e.after).toStrictEqual({
      ID: 1n,
      ORDER_NO: "PO-2024-0001",
      CUSTOMER_NAME: "Zoë Müller",
      STATUS: "PAID      ", // CHAR(10), blank-padded
      LINE_COUNT: 3n, // NUMBER(2) → int8
      QUANTITY: 42n,
      AMOUNT: "1234.56",
      TAX_RATE: "0.0825",
      BIG_COUNTER: "12345678901234567890", // NUMBER(38) → Decimal scale 0
      WEIGHT: 2.5,
      ORDER_DATE: "2024-03-15T10:15:30.000Z", // DATE → io.debezium.time.Timestamp
      CREATED_AT: "2024-03-15T10:15:30.123456Z",
      UPDATED_AT: "2024-03-15T11:15:30.123456+01:00", // offset kept
      NOTES: "Leave at the front desk.",
      ATTACHMENT: new Uint8Array(Buffer.from("255044462D312E37", "hex")),
      CHECKSUM: new Uint8Array(Buffer.from("00112233445566778899AABBCCDDEEFF", "hex")),
    });
  });

  it("decimal.handling.mode=double makes every NUMBER a double, the key too", () => {
    const e = changeOf(decoded, "12-create-all-types-decimal-double.value.json");
    expect(e.key).toStrictEqual({ ID: 1 });
    expect(e.after?.BIG_COUNTER).toBe(1.2345678901234567e19); // Double.toString of NUMBER(38) 12345678901234567890
    expect(e.after?.AMOUNT).toBe(1234.56);
  });

  it("LOB columns the UPDATE did not touch are UNAVAILABLE (CLOB string and BLOB bytes)", () => {
    const e = changeOf(decoded, "10-update-unchanged-lob-columns.value.json");
    expect(e.after?.BODY).toBe(UNAVAILABLE);
    expect(e.after?.CONTENT).toBe(UNAVAILABLE);
    expect(e.after?.TITLE).toBe("Quarterly report v2");
  });
});

// ---- Connect types the fixtures do not carry --------------------------------------------------------------

/** A single-field record through both converters: [Avro-decoded field, JSON-decoded field]. */
async function roundTrip(field: ConnectSchema, value: unknown): Promise<[unknown, unknown]> {
  const connect: ConnectSchema = {
    type: "struct",
    name: "test.Envelope",
    fields: [
      { type: "string", field: "op" },
      {
        type: "struct",
        name: "test.Source",
        field: "source",
        fields: [
          { type: "int64", field: "ts_ms" },
          { type: "string", field: "table" },
        ],
      },
      {
        type: "struct",
        name: "test.Value",
        optional: true,
        field: "after",
        fields: [{ ...field, field: "x" }],
      },
    ],
  };
  const text = stringifyJson({
    schema: connect,
    payload: { op: "c", source: { ts_ms: 0n, table: "t" }, after: { x: value } },
  });
  const registry = new Registry();
  const { bytes } = toAvroBytes(text, undefined, registry);
  const jsonRecord: SourceRecord = {
    topic: "t",
    partition: 0,
    offset: "0",
    timestamp: null,
    headers: {},
    key: null,
    value: Buffer.from(text),
  };
  const avroRecord: SourceRecord = { ...jsonRecord, value: bytes };
  const decoder = new DebeziumAvroDecoder(registry.schemaById);
  await decoder.prefetch([avroRecord]);
  const fromAvro = decoder.decode(avroRecord);
  const fromJson = decodeDebeziumJson(jsonRecord);
  if (fromAvro.kind !== "change" || fromJson.kind !== "change") throw new Error("expected changes");
  return [fromAvro.event.after?.x, fromJson.event.after?.x];
}

describe("Connect logical types and shapes beyond the fixtures", () => {
  it.each<[string, ConnectSchema, unknown, unknown]>([
    ["int16 (connect.type)", { type: "int16" }, -12, -12n],
    ["float32 reads back as its shortest decimal", { type: "float32" }, 1.1, 1.1],
    [
      "Connect Date (logicalType date)",
      { type: "int32", name: "org.apache.kafka.connect.data.Date" },
      19797,
      "2024-03-15",
    ],
    [
      "Connect Time (time-millis)",
      { type: "int32", name: "org.apache.kafka.connect.data.Time" },
      49890123,
      "13:51:30.123",
    ],
    [
      "Connect Timestamp (timestamp-millis)",
      { type: "int64", name: "org.apache.kafka.connect.data.Timestamp" },
      1710497730123,
      "2024-03-15T10:15:30.123Z",
    ],
    ["MicroTime", { type: "int64", name: "io.debezium.time.MicroTime" }, 49890123456, "13:51:30.123456"],
    [
      "NanoTimestamp beyond 2^53",
      { type: "int64", name: "io.debezium.time.NanoTimestamp" },
      1522154096125456789n,
      "2018-03-27T12:34:56.125456789Z",
    ],
    [
      "MicroDuration stays bigint µs",
      { type: "int64", name: "io.debezium.time.MicroDuration" },
      -110451600000000n,
      -110451600000000n,
    ],
    [
      "Decimal with a negative scale (Oracle NUMBER(36,-2))",
      { type: "bytes", name: "org.apache.kafka.connect.data.Decimal", parameters: { scale: "-2" } },
      "DA==", // 12
      "1200",
    ],
    [
      "negative Decimal (sign-extended)",
      { type: "bytes", name: "org.apache.kafka.connect.data.Decimal", parameters: { scale: "2" } },
      "/h3A", // 0xFE1DC0 = -123456
      "-1234.56",
    ],
    [
      "array with null items",
      { type: "array", items: { type: "string", optional: true } },
      ["a", null, "b"],
      ["a", null, "b"],
    ],
    [
      "uuid[] placeholder",
      { type: "array", items: { type: "string", optional: true, name: "io.debezium.data.Uuid", version: 1 } },
      ["b68a35a7-17ad-35b3-af2a-ae46edb4545a"],
      UNAVAILABLE,
    ],
    [
      "date[] placeholder (the placeholder bytes as ints)",
      { type: "array", items: { type: "int32", optional: true, name: "io.debezium.time.Date", version: 1 } },
      Array.from(Buffer.from("__debezium_unavailable_value")),
      UNAVAILABLE,
    ],
    [
      "hstore map placeholder",
      { type: "map", keys: { type: "string" }, values: { type: "string", optional: true } },
      { __debezium_unavailable_value: "__debezium_unavailable_value" },
      UNAVAILABLE,
    ],
    [
      "map with null values",
      { type: "map", keys: { type: "string" }, values: { type: "string", optional: true } },
      { a: "1", b: null },
      { a: "1", b: null },
    ],
    ["Xml", { type: "string", name: "io.debezium.data.Xml", version: 1 }, "<a/>", "<a/>"],
  ])("%s", async (_name, schema, value, expected) => {
    const [fromAvro, fromJson] = await roundTrip(schema, value);
    expect(fromAvro).toStrictEqual(expected);
    expect(fromAvro).toStrictEqual(fromJson);
  });
});

// ---- bad input --------------------------------------------------------------------------------------------

describe("bad Avro input", async () => {
  const registry = new Registry();
  const fixtures = loadFixtures("postgres");
  const create = fixtures.find((f) => f.valueFile === "05-create.value.json");
  if (create === undefined) throw new Error("fixture 05-create missing");
  const good = convert("postgres", create, registry).record;
  const goodValue = good.value as Buffer;
  const decoder = new DebeziumAvroDecoder(registry.schemaById);
  await decoder.prefetch([good]);

  const withValue = (value: Buffer): SourceRecord => ({ ...good, value });
  const decodeError = (record: SourceRecord): string => {
    try {
      decoder.decode(record);
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
      return (err as Error).message;
    }
    throw new Error("expected a DecodeError");
  };

  it("the good record decodes", () => {
    expect(decoder.decode(good).kind).toBe("change");
  });

  it("wrong magic byte", () => {
    const bad = Buffer.from(goodValue);
    bad[0] = 0x01;
    expect(decodeError(withValue(bad))).toMatch(/^value: .*magic byte 0x01/);
  });

  it("JSON where Avro was expected", () => {
    expect(decodeError(withValue(Buffer.from(create.valueText ?? "")))).toMatch(/magic byte 0x7b/);
  });

  it("too short for the wire header", () => {
    expect(decodeError(withValue(Buffer.from([0, 0, 0])))).toMatch(/too short/);
  });

  it("unknown schema id (registry says 404)", async () => {
    const bad = Buffer.from(goodValue);
    bad.writeUInt32BE(4242, 1);
    await decoder.prefetch([withValue(bad)]);
    expect(decodeError(withValue(bad))).toMatch(/unknown schema id 4242: .*does not know/);
    // remembered: no second lookup
    const before = registry.lookups;
    await decoder.prefetch([withValue(bad)]);
    expect(registry.lookups).toBe(before);
  });

  it("schema id never prefetched", () => {
    const fresh = new DebeziumAvroDecoder(registry.schemaById);
    expect(() => fresh.decode(good)).toThrow(/unknown schema id \d+: not fetched/);
  });

  it("truncated body", () => {
    expect(decodeError(withValue(goodValue.subarray(0, goodValue.length - 10)))).toMatch(
      /^value: Avro body .*does not decode/,
    );
  });

  it("trailing bytes after the body", () => {
    expect(decodeError(withValue(Buffer.concat([goodValue, Buffer.from([1, 2, 3])])))).toMatch(
      /does not decode/,
    );
  });

  it("a bad key names the key", () => {
    const key = Buffer.from(good.key as Buffer);
    key[0] = 0x05;
    expect(decodeError({ ...good, key })).toMatch(/^key: .*magic byte 0x05/);
  });

  it("a registered schema that is not Avro", async () => {
    const d = new DebeziumAvroDecoder(() => Promise.resolve('{"type":"recordz"}'));
    await d.prefetch([good]);
    expect(() => d.decode(good)).toThrow(/not a usable Avro schema/);
  });

  it("an unreachable registry rejects prefetch (retry the batch) instead of failing records", async () => {
    let down = true;
    const d = new DebeziumAvroDecoder((id) =>
      down ? Promise.reject(new Error("ECONNREFUSED")) : registry.schemaById(id),
    );
    await expect(d.prefetch([good])).rejects.toThrow(/ECONNREFUSED/);
    down = false;
    await d.prefetch([good]);
    expect(d.decode(good).kind).toBe("change");
  });
});
