import { describe, expect, it } from "vitest";
import { EventSchema, SchemaError } from "../../src/encode/index.js";

const orderPlaced = {
  type: "record",
  name: "OrderPlaced",
  namespace: "io.example.order",
  doc: "An order was placed",
  fields: [
    { name: "orderId", type: "long", doc: "order number" },
    { name: "total", type: { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 } },
    { name: "placedAt", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "channel", type: "string", default: "web" },
    { name: "coupon", type: ["null", "string"] },
    { name: "tags", type: { type: "array", items: "string" }, default: [] },
  ],
};

describe("EventSchema.parse", () => {
  const schema = EventSchema.parse(orderPlaced, "schemas/order/OrderPlaced.avsc");

  it("exposes the record's names", () => {
    expect(schema.fullName).toBe("io.example.order.OrderPlaced");
    expect(schema.name).toBe("OrderPlaced");
  });

  it("lists fields with short type labels and whether they are required", () => {
    expect(schema.fields.map((f) => [f.name, f.avroType, f.required, f.hasDefault])).toEqual([
      ["orderId", "long", true, false],
      ["total", "decimal(12,2)", true, false],
      ["placedAt", "timestamp-millis", true, false],
      ["channel", "string", false, true],
      ["coupon", "union<null,string>", false, false],
      ["tags", "array<string>", false, true],
    ]);
    expect(schema.field("channel")?.default).toBe("web");
    expect(schema.field("nope")).toBeUndefined();
  });

  it("accepts the schema as JSON text", () => {
    expect(EventSchema.parse(JSON.stringify(orderPlaced)).fullName).toBe("io.example.order.OrderPlaced");
  });
});

describe("canonical schema text", () => {
  it("keeps doc, defaults and logical type attributes", () => {
    const canonical = JSON.parse(EventSchema.parse(orderPlaced).canonical) as typeof orderPlaced;
    expect(canonical.doc).toBe("An order was placed");
    expect(canonical.fields[0]).toEqual({ name: "orderId", type: "long", doc: "order number" });
    expect(canonical.fields[1]?.type).toEqual({
      type: "bytes",
      logicalType: "decimal",
      precision: 12,
      scale: 2,
    });
    expect(canonical.fields[3]).toEqual({ name: "channel", type: "string", default: "web" });
  });

  it("does not depend on the key order of the .avsc", () => {
    const shuffled = {
      fields: orderPlaced.fields.map((f) => Object.fromEntries(Object.entries(f).reverse())),
      doc: orderPlaced.doc,
      namespace: orderPlaced.namespace,
      name: orderPlaced.name,
      type: "record",
    };
    const canonical = EventSchema.parse(orderPlaced).canonical;
    expect(EventSchema.parse(shuffled).canonical).toBe(canonical);
    expect(canonical.startsWith('{"type":"record","name":"OrderPlaced","namespace":"io.example.order"')).toBe(
      true,
    );
  });

  it("writes a bare primitive as its name, like Java's Schema.toString()", () => {
    const schema = EventSchema.parse({
      type: "record",
      name: "R",
      fields: [{ name: "a", type: { type: "int" } }],
    });
    expect(schema.canonical).toBe('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}');
  });

  it("parses back to the same schema", () => {
    const canonical = EventSchema.parse(orderPlaced).canonical;
    expect(EventSchema.parse(canonical).canonical).toBe(canonical);
  });
});

describe("invalid schemas", () => {
  const withField = (type: unknown, extra: Record<string, unknown> = {}) => ({
    type: "record",
    name: "R",
    fields: [{ name: "v", type, ...extra }],
  });

  it("names the origin and the problem", () => {
    expect(() => EventSchema.parse(withField("Missing"), "schemas/x.avsc")).toThrow(SchemaError);
    expect(() => EventSchema.parse(withField("Missing"), "schemas/x.avsc")).toThrow(
      /^schemas\/x\.avsc: .*Missing/,
    );
  });

  it("rejects a schema that is not a record", () => {
    expect(() => EventSchema.parse("string")).toThrow(SchemaError);
    expect(() => EventSchema.parse({ type: "enum", name: "E", symbols: ["A"] })).toThrow(
      /must be an Avro record/,
    );
    expect(() => EventSchema.parse("{not json")).toThrow(/not valid JSON/);
  });

  it("rejects a default that does not match its type", () => {
    expect(() => EventSchema.parse(withField("int", { default: "x" }))).toThrow(SchemaError);
  });

  it("rejects decimal parameters that make no sense", () => {
    expect(() =>
      EventSchema.parse(withField({ type: "bytes", logicalType: "decimal", precision: 2, scale: 3 })),
    ).toThrow(/scale/);
    expect(() => EventSchema.parse(withField({ type: "bytes", logicalType: "decimal" }))).toThrow(
      /precision/,
    );
    // a fixed(2) holds at most 32767: 4 digits
    const fixed = { type: "fixed", name: "F", size: 2, logicalType: "decimal", precision: 5 };
    expect(() => EventSchema.parse(withField(fixed))).toThrow(/does not fit a fixed of 2 bytes/);
  });

  it("rejects a known logical type on the wrong underlying type", () => {
    expect(() => EventSchema.parse(withField({ type: "string", logicalType: "timestamp-millis" }))).toThrow(
      /timestamp-millis.*long/,
    );
    expect(() => EventSchema.parse(withField({ type: "long", logicalType: "date" }))).toThrow(/date.*int/);
  });
});
