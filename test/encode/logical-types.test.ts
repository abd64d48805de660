// Each logical type: coerce → encode (bytes checked against the Avro spec's binary encoding) → decode → render.
import { describe, expect, it } from "vitest";
import { EventSchema, stringifyJson } from "../../src/encode/index.js";

function single(type: unknown): EventSchema {
  return EventSchema.parse({ type: "record", name: "R", namespace: "t", fields: [{ name: "v", type }] });
}

/** Avro long/int binary: zig-zag then base-128 varint, little-endian groups (Avro spec, "Binary Encoding"). */
function zigzagVarint(n: bigint): number[] {
  let z = n >= 0n ? n * 2n : -n * 2n - 1n;
  const out: number[] = [];
  do {
    const low = Number(z & 0x7fn);
    z >>= 7n;
    out.push(z > 0n ? low | 0x80 : low);
  } while (z > 0n);
  return out;
}

function roundTrip(schema: EventSchema, input: unknown) {
  const coerced = schema.coerce({ v: input });
  const body = schema.encode(coerced);
  const decoded = schema.decode(body);
  return { coerced, body: [...body], decoded, rendered: schema.render(decoded).v };
}

describe("decimal", () => {
  const bytes42 = single({ type: "bytes", logicalType: "decimal", precision: 4, scale: 2 });

  it('encodes "12.50" in bytes(4,2) as the two\'s complement of the unscaled 1250', () => {
    const r = roundTrip(bytes42, "12.50");
    // 1250 = 0x04E2; bytes are a length (2 → zig-zag 0x04) followed by the big-endian two's complement
    expect(r.body).toEqual([0x04, 0x04, 0xe2]);
    expect(r.rendered).toBe("12.50");
  });

  it("pads to exactly `scale` fraction digits and keeps the sign of negatives", () => {
    expect(roundTrip(bytes42, "12.5").rendered).toBe("12.50");
    const neg = roundTrip(bytes42, "-0.01");
    expect(neg.body).toEqual([0x02, 0xff]); // -1 in one byte
    expect(neg.rendered).toBe("-0.01");
    expect(roundTrip(bytes42, 0).rendered).toBe("0.00");
  });

  it("adds a sign byte when the high bit of a positive value is set", () => {
    // 1.28 → unscaled 128 = 0x80, which alone would read as -128
    expect(roundTrip(bytes42, "1.28").body).toEqual([0x04, 0x00, 0x80]);
  });

  it("sign-extends into a fixed of the declared size", () => {
    const fixed = single({
      type: "fixed",
      name: "Money",
      size: 4,
      logicalType: "decimal",
      precision: 9,
      scale: 2,
    });
    const r = roundTrip(fixed, "-12.50");
    expect(r.body).toEqual([0xff, 0xff, 0xfb, 0x1e]); // -1250 as 32-bit two's complement, no length prefix
    expect(r.rendered).toBe("-12.50");
  });

  it("keeps values beyond 2^53 exact", () => {
    const wide = single({ type: "bytes", logicalType: "decimal", precision: 38, scale: 10 });
    const text = "1234567890123456789012345678.0123456789";
    expect(roundTrip(wide, text).rendered).toBe(text);
  });
});

describe("timestamps", () => {
  const epochMs = Date.UTC(2024, 2, 15, 10, 5, 11, 102);

  it("timestamp-millis is epoch milliseconds as a long", () => {
    const r = roundTrip(
      single({ type: "long", logicalType: "timestamp-millis" }),
      "2024-03-15T10:05:11.102Z",
    );
    expect(r.body).toEqual(zigzagVarint(BigInt(epochMs)));
    expect(r.rendered).toBe("2024-03-15T10:05:11.102Z");
  });

  it("timestamp-micros keeps all six fraction digits", () => {
    const r = roundTrip(
      single({ type: "long", logicalType: "timestamp-micros" }),
      "2024-03-15T10:05:11.102345Z",
    );
    expect(r.body).toEqual(zigzagVarint(BigInt(epochMs) * 1000n + 345n));
    expect(r.rendered).toBe("2024-03-15T10:05:11.102345Z");
  });

  it("renders whole seconds with the type's full precision", () => {
    expect(
      roundTrip(single({ type: "long", logicalType: "timestamp-millis" }), "2024-03-15T10:05:11Z").rendered,
    ).toBe("2024-03-15T10:05:11.000Z");
    expect(roundTrip(single({ type: "long", logicalType: "timestamp-micros" }), 0).rendered).toBe(
      "1970-01-01T00:00:00.000000Z",
    );
  });

  it("converts an offset to UTC and handles instants before 1970", () => {
    const ts = single({ type: "long", logicalType: "timestamp-millis" });
    expect(roundTrip(ts, "2024-03-15T12:05:11.102+02:00").rendered).toBe("2024-03-15T10:05:11.102Z");
    const before = roundTrip(ts, "1969-12-31T23:59:59.999Z");
    expect(before.body).toEqual(zigzagVarint(-1n));
    expect(before.rendered).toBe("1969-12-31T23:59:59.999Z");
  });

  it("local-timestamp-* are wall-clock times rendered without a zone", () => {
    const millis = roundTrip(
      single({ type: "long", logicalType: "local-timestamp-millis" }),
      "2024-03-15T10:05:11.102",
    );
    expect(millis.body).toEqual(zigzagVarint(BigInt(epochMs)));
    expect(millis.rendered).toBe("2024-03-15T10:05:11.102");
    const micros = single({ type: "long", logicalType: "local-timestamp-micros" });
    expect(roundTrip(micros, "2024-03-15T10:05:11.102345Z").rendered).toBe("2024-03-15T10:05:11.102345");
  });
});

describe("date and time", () => {
  it("date is days since 1970-01-01 as an int", () => {
    const date = single({ type: "int", logicalType: "date" });
    const r = roundTrip(date, "2024-03-15");
    expect(r.body).toEqual(zigzagVarint(BigInt(Date.UTC(2024, 2, 15) / 86_400_000)));
    expect(r.rendered).toBe("2024-03-15");
    expect(roundTrip(date, "1969-12-31").body).toEqual([0x01]); // day -1
    expect(roundTrip(date, "2000-02-29").rendered).toBe("2000-02-29");
  });

  it("time-millis is milliseconds after midnight as an int", () => {
    const r = roundTrip(single({ type: "int", logicalType: "time-millis" }), "10:05:11.102");
    expect(r.body).toEqual(zigzagVarint(36_311_102n));
    expect(r.rendered).toBe("10:05:11.102");
  });

  it("time-micros is microseconds after midnight as a long", () => {
    const r = roundTrip(single({ type: "long", logicalType: "time-micros" }), "23:59:59.999999");
    expect(r.body).toEqual(zigzagVarint(86_400_000_000n - 1n));
    expect(r.rendered).toBe("23:59:59.999999");
  });
});

describe("uuid", () => {
  it("is the UUID text on a string, lower case", () => {
    const r = roundTrip(
      single({ type: "string", logicalType: "uuid" }),
      "123E4567-E89B-12D3-A456-426614174000",
    );
    expect(r.body[0]).toBe(72); // length 36 → zig-zag 72
    expect(Buffer.from(r.body.slice(1)).toString()).toBe("123e4567-e89b-12d3-a456-426614174000");
    expect(r.rendered).toBe("123e4567-e89b-12d3-a456-426614174000");
  });

  it("is the 16 raw bytes on a fixed(16)", () => {
    const uuid = single({ type: "fixed", name: "Uuid", size: 16, logicalType: "uuid" });
    const r = roundTrip(uuid, "123e4567-e89b-12d3-a456-426614174000");
    expect(Buffer.from(r.body).toString("hex")).toBe("123e4567e89b12d3a456426614174000");
    expect(r.rendered).toBe("123e4567-e89b-12d3-a456-426614174000");
  });
});

describe("unknown logical types", () => {
  it("are ignored: the underlying type is used (Avro spec)", () => {
    const schema = single({ type: "long", logicalType: "my-custom-thing" });
    expect(schema.fields[0]?.avroType).toBe("long");
    const r = roundTrip(schema, 42n);
    expect(r.body).toEqual([84]);
    expect(stringifyJson(r.rendered)).toBe("42");
  });
});

describe("logical type names that collide with object properties", () => {
  it("are unknown logical types like any other", () => {
    const schema = single({ type: "string", logicalType: "toString" });
    expect(schema.coerce({ v: "x" }).v).toBe("x");
  });
});
