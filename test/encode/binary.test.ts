// The Avro binary body and Confluent wire bytes: checked by hand against the Avro spec, and read back by
// independent decoders (plain avsc, @kafkajs/confluent-schema-registry against a stub registry).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SchemaRegistry as ConfluentClient } from "@kafkajs/confluent-schema-registry";
import avro from "avsc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CoercionError,
  EventSchema,
  fromWireFormat,
  stringifyJson,
  toWireFormat,
} from "../../src/encode/index.js";

const customerRegistered = {
  type: "record",
  name: "CustomerRegistered",
  namespace: "io.example.customer",
  fields: [
    { name: "customerId", type: "long" },
    { name: "email", type: "string" },
    { name: "nickname", type: ["null", "string"], default: null },
    { name: "registeredAt", type: { type: "long", logicalType: "timestamp-millis" } },
  ],
};

describe("Avro binary body", () => {
  const schema = EventSchema.parse(customerRegistered);

  it("matches the hand-computed encoding of a record", () => {
    const value = schema.coerce({ customerId: 1005n, email: "ab", nickname: null, registeredAt: 1000n });
    expect([...schema.encode(value)]).toEqual([
      0xda,
      0x0f, // 1005 → zig-zag 2010 = 0b1111_1011010 → 0xDA 0x0F
      0x04,
      0x61,
      0x62, // "ab": length 2 → 0x04, then UTF-8
      0x00, // union branch 0 (null)
      0xd0,
      0x0f, // 1000 → zig-zag 2000 → 0xD0 0x0F
    ]);
  });

  it("encodes the union branch index and negative longs", () => {
    const value = schema.coerce({ customerId: -1n, email: "", nickname: "x", registeredAt: -64n });
    expect([...schema.encode(value)]).toEqual([
      0x01, // -1 → zig-zag 1
      0x00, // empty string
      0x02,
      0x02,
      0x78, // branch 1 (string), "x"
      0x7f, // -64 → zig-zag 127
    ]);
  });

  it("encodes the int64 extremes exactly", () => {
    const max = schema.encode(
      schema.coerce({ customerId: 9223372036854775807n, email: "", registeredAt: 0 }),
    );
    // zig-zag(2^63 − 1) = 2^64 − 2: 0xFE then eight 0xFF… groups and a final 0x01
    expect([...max.subarray(0, 10)]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const min = schema.encode(
      schema.coerce({ customerId: -9223372036854775808n, email: "", registeredAt: 0 }),
    );
    expect([...min.subarray(0, 10)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(schema.decode(max).customerId).toBe(9223372036854775807n);
    expect(schema.decode(min).customerId).toBe(-9223372036854775808n);
  });

  it("rejects a value of the wrong shape with the field path", () => {
    const bad = { customerId: 1.5, email: "a", nickname: null, registeredAt: "2024-01-01T00:00:00Z" };
    expect(() => schema.encode(bad)).toThrow(CoercionError);
    expect(() => schema.encode(bad)).toThrow(/customerId/);
  });

  it("decodes data written with an older schema version (Avro schema resolution)", () => {
    const v1 = EventSchema.parse({
      ...customerRegistered,
      fields: customerRegistered.fields.filter((f) => f.name !== "nickname"),
    });
    const body = v1.encode(v1.coerce({ customerId: 7n, email: "a@b", registeredAt: 0 }));
    expect(schema.decode(body, v1)).toEqual({
      customerId: 7n,
      email: "a@b",
      nickname: null,
      registeredAt: "1970-01-01T00:00:00.000Z",
    });
  });

  it("renders docs/records.md JSON with exact longs", () => {
    const value = schema.coerce({
      customerId: 9007199254740993n,
      email: "jane.doe@example.com",
      nickname: "jd",
      registeredAt: "2024-03-15T10:05:11.102Z",
    });
    expect(stringifyJson(schema.render(schema.decode(schema.encode(value))))).toBe(
      '{"customerId":9007199254740993,"email":"jane.doe@example.com","nickname":"jd","registeredAt":"2024-03-15T10:05:11.102Z"}',
    );
  });
});

describe("interoperability", () => {
  const orderPlaced = {
    type: "record",
    name: "OrderPlaced",
    namespace: "io.example.order",
    fields: [
      { name: "orderId", type: "long" },
      { name: "total", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
      { name: "placedAt", type: { type: "long", logicalType: "timestamp-micros" } },
      { name: "status", type: { type: "enum", name: "Status", symbols: ["NEW", "PAID"] } },
      { name: "note", type: ["null", "string"], default: null },
    ],
  };
  const schema = EventSchema.parse(orderPlaced);
  const value = schema.coerce({
    orderId: 10001n,
    total: "12.50",
    placedAt: "2024-03-15T10:05:11.102345Z",
    status: "PAID",
    note: "gift",
  });
  const wire = toWireFormat(42, schema.encode(value));

  function checkPlain(decoded: Record<string, unknown>): void {
    expect(decoded.orderId).toBe(10001);
    expect([...(decoded.total as Buffer)]).toEqual([0x04, 0xe2]); // unscaled 1250
    expect(decoded.placedAt).toBe(Date.UTC(2024, 2, 15, 10, 5, 11, 102) * 1000 + 345);
    expect(decoded.status).toBe("PAID");
  }

  it("plain avsc reads the body of the wire bytes with the registered schema text", () => {
    const { schemaId, body } = fromWireFormat(wire);
    expect(schemaId).toBe(42);
    const plain = avro.Type.forSchema(JSON.parse(schema.canonical) as avro.schema.RecordType);
    const decoded = plain.fromBuffer(body) as Record<string, unknown>;
    checkPlain(decoded);
    expect(decoded.note).toBe("gift"); // avsc unwraps ["null", X] unions by default
  });

  describe("with @kafkajs/confluent-schema-registry", () => {
    let server: Server;
    let host = "";
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === "/schemas/ids/42") {
          res.writeHead(200, { "content-type": "application/vnd.schemaregistry.v1+json" });
          res.end(JSON.stringify({ schema: schema.canonical }));
        } else {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ error_code: 40403, message: "Schema not found" }));
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it("decodes our wire bytes", async () => {
      const client = new ConfluentClient({ host });
      const decoded = (await client.decode(wire)) as Record<string, unknown>;
      checkPlain(decoded);
    });

    it("produces bytes we decode", async () => {
      const client = new ConfluentClient({ host });
      const theirs = await client.encode(42, {
        orderId: 10001,
        total: Buffer.from([0x04, 0xe2]),
        placedAt: Date.UTC(2024, 2, 15, 10, 5, 11, 102) * 1000 + 345,
        status: "PAID",
        note: "gift",
      });
      expect([...theirs]).toEqual([...wire]);
      const { body } = fromWireFormat(theirs);
      expect(stringifyJson(schema.render(schema.decode(body)))).toBe(
        '{"orderId":10001,"total":"12.50","placedAt":"2024-03-15T10:05:11.102345Z","status":"PAID","note":"gift"}',
      );
    });
  });
});
