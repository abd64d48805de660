// docs/transforms.md: mapped values are coerced to the Avro type exactly, or rejected with the field and the reason.
import { describe, expect, it } from "vitest";
import { UNAVAILABLE } from "../../src/decode/change-event.js";
import { CoercionError, EventSchema } from "../../src/encode/index.js";

function single(type: unknown, extra: Record<string, unknown> = {}): EventSchema {
  return EventSchema.parse({ type: "record", name: "R", fields: [{ name: "v", type, ...extra }] });
}

function coerceV(type: unknown, value: unknown): unknown {
  return single(type).coerce({ v: value }).v;
}

function failure(fn: () => unknown): CoercionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CoercionError) return err;
    throw err;
  }
  throw new Error("expected a CoercionError");
}

function rejects(type: unknown, value: unknown): string {
  return failure(() => coerceV(type, value)).message;
}

const decimal12_2 = { type: "bytes", logicalType: "decimal", precision: 12, scale: 2 };

describe("null and defaults", () => {
  it("null or a missing field takes the field default", () => {
    const schema = single("string", { default: "n/a" });
    expect(schema.coerce({ v: null }).v).toBe("n/a");
    expect(schema.coerce({}).v).toBe("n/a");
  });

  it("null in a nullable union without default stays null", () => {
    expect(coerceV(["null", "string"], null)).toBeNull();
  });

  it("a default of a union is the first branch's value", () => {
    const schema = single(["long", "null"], { default: 7 });
    expect(schema.coerce({ v: null }).v).toEqual({ long: 7n });
  });

  it("null in a required field is an error naming the field", () => {
    const message = failure(() =>
      EventSchema.parse({
        type: "record",
        name: "CustomerRegistered",
        fields: [
          { name: "customerId", type: "long" },
          { name: "email", type: "string" },
        ],
      }).coerce({ customerId: 1n }),
    ).message;
    expect(message).toMatch(/^field "email": .*required/);
  });

  it("coerceField applies the same rules to one field", () => {
    const schema = EventSchema.parse({
      type: "record",
      name: "R",
      fields: [
        { name: "a", type: "int", default: 3 },
        { name: "b", type: "int" },
      ],
    });
    expect(schema.coerceField("a", null)).toBe(3);
    expect(schema.coerceField("b", 4n)).toBe(4);
    expect(() => schema.coerceField("b", null)).toThrow(/field "b": .*required/);
    expect(() => schema.coerceField("zzz", 1)).toThrow(CoercionError);
  });
});

describe("int and long", () => {
  it("accepts bigint and integer-valued numbers within range", () => {
    expect(coerceV("int", 42n)).toBe(42);
    expect(coerceV("int", -7)).toBe(-7);
    expect(coerceV("int", 2147483647)).toBe(2147483647);
    expect(coerceV("long", 42)).toBe(42n);
  });

  it("keeps the largest long exact", () => {
    expect(coerceV("long", 9223372036854775807n)).toBe(9223372036854775807n);
    expect(coerceV("long", -9223372036854775808n)).toBe(-9223372036854775808n);
  });

  it("rejects overflow, fractions and text", () => {
    expect(rejects("long", 9223372036854775808n)).toMatch(
      /^field "v": 9223372036854775808 is out of range for long/,
    );
    expect(rejects("int", 2 ** 31)).toMatch(/2147483648 is out of range for int/);
    expect(rejects("int", 1.5)).toMatch(/^field "v": 1.5 is not an int/);
    expect(rejects("long", "abc")).toMatch(/^field "v": "abc" is not a long/);
    expect(rejects("long", true)).toMatch(/is not a long/);
  });

  it("accepts whole-number decimal strings exactly (Decimal columns with scale 0, or only zero fraction digits)", () => {
    expect(coerceV("long", "42")).toBe(42n);
    expect(coerceV("long", "-9223372036854775808")).toBe(-9223372036854775808n);
    expect(coerceV("long", "9223372036854775807.000")).toBe(9223372036854775807n);
    expect(coerceV("int", "1234.00")).toBe(1234);
    expect(coerceV("int", "-0")).toBe(0);
    expect(coerceV("int", "2147483647")).toBe(2147483647);
  });

  it("rejects decimal strings with a fraction, out of range, or not plain decimals", () => {
    expect(rejects("int", "1234.50")).toMatch(/^field "v": "1234.50" is not an int \(it has a fraction\)/);
    expect(rejects("long", "0.1")).toMatch(/"0.1" is not a long \(it has a fraction\)/);
    expect(rejects("int", "2147483648")).toMatch(/"2147483648" is out of range for int/);
    expect(rejects("long", "9223372036854775808")).toMatch(/out of range for long/);
    expect(rejects("long", "9".repeat(100_000))).toMatch(/out of range for long/);
    expect(coerceV("long", "0000000000000000000000042")).toBe(42n);
    for (const text of ["", " 42", "42 ", "+42", "4e2", "0x2a", "42.", ".5", "1_000", "١٢"])
      expect(rejects("long", text), JSON.stringify(text)).toMatch(/is not a long/);
  });
});

describe("float and double", () => {
  it("accepts numbers and exactly representable bigints", () => {
    expect(coerceV("double", 0.1)).toBe(0.1);
    expect(coerceV("double", 2n ** 60n)).toBe(2 ** 60);
    expect(coerceV("float", 1.5)).toBe(1.5);
  });

  it("rejects a bigint the double cannot hold exactly", () => {
    expect(rejects("double", 2n ** 53n + 1n)).toMatch(
      /9007199254740993 is not exactly representable as double/,
    );
  });

  it("rejects a number that overflows float", () => {
    expect(rejects("float", 1e39)).toMatch(/overflows float/);
  });

  it("rejects text", () => {
    expect(rejects("double", "1.5")).toMatch(/is not a number/);
  });
});

describe("string", () => {
  it("takes text as is and prints numbers and booleans", () => {
    expect(coerceV("string", "héllo")).toBe("héllo");
    expect(coerceV("string", 9223372036854775807n)).toBe("9223372036854775807");
    expect(coerceV("string", 12.5)).toBe("12.5");
    expect(coerceV("string", false)).toBe("false");
  });

  it("prints objects and arrays as JSON with exact integers", () => {
    expect(coerceV("string", { id: 9007199254740993n, tags: ["a"] })).toBe(
      '{"id":9007199254740993,"tags":["a"]}',
    );
    expect(coerceV("string", [1n, null])).toBe("[1,null]");
  });

  it("rejects bytes", () => {
    expect(rejects("string", new Uint8Array([1, 2]))).toMatch(/bytes\[2\] cannot be coerced to string/);
  });
});

describe("boolean, bytes, fixed", () => {
  it("boolean takes booleans only", () => {
    expect(coerceV("boolean", true)).toBe(true);
    expect(rejects("boolean", 1)).toMatch(/1 is not a boolean/);
    expect(rejects("boolean", "true")).toMatch(/is not a boolean/);
  });

  it("bytes takes bytes, or text as UTF-8", () => {
    expect([...(coerceV("bytes", new Uint8Array([0, 255])) as Buffer)]).toEqual([0, 255]);
    expect([...(coerceV("bytes", "é") as Buffer)]).toEqual([0xc3, 0xa9]);
    expect(rejects("bytes", 5)).toMatch(/is not bytes/);
  });

  it("fixed needs exactly its size", () => {
    const fixed = { type: "fixed", name: "F4", size: 4 };
    expect([...(coerceV(fixed, new Uint8Array([1, 2, 3, 4])) as Buffer)]).toEqual([1, 2, 3, 4]);
    expect(rejects(fixed, new Uint8Array([1, 2, 3]))).toMatch(/has 3 bytes; F4 needs exactly 4/);
  });
});

describe("decimal", () => {
  it("accepts decimal text, exponents, bigints and numbers", () => {
    expect(coerceV(decimal12_2, "12.5")).toBe("12.50");
    expect(coerceV(decimal12_2, "1e3")).toBe("1000.00");
    expect(coerceV(decimal12_2, 42n)).toBe("42.00");
    expect(coerceV(decimal12_2, 19.99)).toBe("19.99");
    expect(coerceV({ ...decimal12_2, scale: 4 }, "-0.0825")).toBe("-0.0825");
  });

  it("accepts extra fraction digits only when they are zeros", () => {
    expect(coerceV(decimal12_2, "7.1000")).toBe("7.10");
    expect(rejects(decimal12_2, "7.105")).toMatch(
      /^field "v": "7.105" has more fraction digits than decimal\(12,2\)/,
    );
    // 0.1 + 0.2 is 0.30000000000000004 as a double: rounding it would be silent
    expect(rejects(decimal12_2, 0.1 + 0.2)).toMatch(/more fraction digits/);
  });

  it("rejects more digits than the precision", () => {
    expect(rejects(decimal12_2, 1e40)).toBe('field "v": 1e+40 does not fit decimal(12,2)');
    expect(coerceV(decimal12_2, "9999999999.99")).toBe("9999999999.99");
    expect(rejects(decimal12_2, "10000000000")).toMatch(/does not fit decimal\(12,2\)/);
    expect(rejects(decimal12_2, 10n ** 10n)).toMatch(/does not fit decimal\(12,2\)/);
  });

  it("rejects what is not a number", () => {
    expect(rejects(decimal12_2, "12,5")).toMatch(/is not a decimal number/);
    expect(rejects(decimal12_2, Number.NaN)).toMatch(/is not a finite number/);
    expect(rejects(decimal12_2, true)).toMatch(/is not a decimal/);
  });
});

describe("timestamps", () => {
  const millis = { type: "long", logicalType: "timestamp-millis" };
  const micros = { type: "long", logicalType: "timestamp-micros" };

  it("accepts ISO-8601 text with Z or an offset", () => {
    expect(coerceV(millis, "2024-03-15T10:05:11.102Z")).toBe("2024-03-15T10:05:11.102Z");
    expect(coerceV(micros, "2024-03-15T11:05:11.102345+01:00")).toBe("2024-03-15T10:05:11.102345Z");
  });

  it("accepts epoch values in the type's own unit", () => {
    expect(coerceV(millis, 1710497111102n)).toBe("2024-03-15T10:05:11.102Z");
    expect(coerceV(millis, 1710497111102)).toBe("2024-03-15T10:05:11.102Z");
    expect(coerceV(micros, 1710497111102345n)).toBe("2024-03-15T10:05:11.102345Z");
    expect(rejects(millis, 1.5)).toMatch(/is not an integer/);
  });

  it("rejects precision finer than the type unless the extra digits are zeros", () => {
    expect(rejects(millis, "2024-03-15T10:05:11.102345Z")).toMatch(
      /^field "v": "2024-03-15T10:05:11.102345Z" is more precise than timestamp-millis/,
    );
    expect(coerceV(millis, "2024-03-15T10:05:11.102000Z")).toBe("2024-03-15T10:05:11.102Z");
    expect(rejects(micros, "2024-03-15T10:05:11.102345678Z")).toMatch(/more precise than timestamp-micros/);
  });

  it("rejects text without a zone, invalid dates, and non-timestamps", () => {
    expect(rejects(millis, "2024-03-15T10:05:11")).toMatch(/no UTC offset/);
    expect(rejects(millis, "2023-02-29T00:00:00Z")).toMatch(/not a valid calendar date/);
    expect(rejects(millis, "yesterday")).toMatch(/is not an ISO-8601 timestamp/);
    expect(rejects(millis, true)).toMatch(/is not a timestamp/);
  });

  it("local timestamps take wall-clock text but no non-UTC offset", () => {
    const local = { type: "long", logicalType: "local-timestamp-millis" };
    expect(coerceV(local, "2024-03-15T10:05:11.102")).toBe("2024-03-15T10:05:11.102");
    expect(rejects(local, "2024-03-15T10:05:11.102+02:00")).toMatch(/has a UTC offset/);
  });
});

describe("date and time", () => {
  const date = { type: "int", logicalType: "date" };
  const timeMillis = { type: "int", logicalType: "time-millis" };
  const timeMicros = { type: "long", logicalType: "time-micros" };

  it("date takes YYYY-MM-DD, a timestamp at midnight UTC, or days", () => {
    expect(coerceV(date, "2024-03-15")).toBe("2024-03-15");
    expect(coerceV(date, "2024-03-15T00:00:00Z")).toBe("2024-03-15");
    expect(coerceV(date, 19797n)).toBe("2024-03-15");
    expect(coerceV(date, 0)).toBe("1970-01-01");
    expect(rejects(date, "2024-03-15T10:00:00Z")).toMatch(/not at midnight UTC/);
    expect(rejects(date, "2024-13-01")).toMatch(/not a valid calendar date/);
  });

  it("time takes HH:MM:SS[.fraction] or units since midnight", () => {
    expect(coerceV(timeMillis, "10:05:11.1")).toBe("10:05:11.100");
    expect(coerceV(timeMillis, 36_311_102)).toBe("10:05:11.102");
    expect(coerceV(timeMicros, "10:05:11.102345")).toBe("10:05:11.102345");
    expect(coerceV(timeMicros, 1n)).toBe("00:00:00.000001");
    expect(rejects(timeMillis, "10:05:11.1025")).toMatch(/more precise than time-millis/);
    expect(rejects(timeMillis, 86_400_000)).toMatch(/out of range for time-millis/);
    expect(rejects(timeMillis, "25:00:00")).toMatch(/not a valid time of day/);
  });
});

describe("enum and uuid", () => {
  const status = { type: "enum", name: "Status", symbols: ["ACTIVE", "BLOCKED"] };

  it("enum takes one of its symbols and lists them otherwise", () => {
    expect(coerceV(status, "ACTIVE")).toBe("ACTIVE");
    expect(rejects(status, "active")).toBe(
      'field "v": "active" is not a symbol of enum Status (ACTIVE, BLOCKED)',
    );
  });

  it("uuid takes canonical UUID text only", () => {
    const uuid = { type: "string", logicalType: "uuid" };
    expect(coerceV(uuid, "123e4567-e89b-12d3-a456-426614174000")).toBe(
      "123e4567-e89b-12d3-a456-426614174000",
    );
    expect(rejects(uuid, "123e4567e89b12d3a456426614174000")).toMatch(/is not a UUID/);
  });
});

describe("arrays, maps, records", () => {
  const order = EventSchema.parse({
    type: "record",
    name: "OrderPlaced",
    fields: [
      {
        name: "lines",
        type: {
          type: "array",
          items: {
            type: "record",
            name: "Line",
            fields: [
              { name: "sku", type: "string" },
              { name: "quantity", type: "int", default: 1 },
            ],
          },
        },
      },
      { name: "attributes", type: { type: "map", values: "long" }, default: {} },
    ],
  });

  it("coerces recursively, with defaults inside nested records", () => {
    const value = order.coerce({
      lines: [{ sku: "A-1", quantity: 2n }, { sku: "B-2" }],
      attributes: new Map([["weight", 12n]]),
    });
    expect(value).toEqual({
      lines: [
        { sku: "A-1", quantity: 2 },
        { sku: "B-2", quantity: 1 },
      ],
      attributes: { weight: 12n },
    });
    expect(order.coerce({ lines: [] }).attributes).toEqual({});
  });

  it("names the nested path of a bad value", () => {
    const lines = [{ sku: "a" }, { sku: "b" }, { quantity: 1n }];
    expect(failure(() => order.coerce({ lines })).message).toMatch(/^field "lines\[2\]\.sku": .*required/);
    const err = failure(() => order.coerce({ lines: [], attributes: { weight: 1.5 } }));
    expect(err.path).toBe('attributes["weight"]');
    expect(err.message).toMatch(/1.5 is not a long/);
  });

  it("rejects fields the schema does not have", () => {
    expect(failure(() => order.coerce({ lines: [], colour: "red" })).message).toMatch(
      /^field "colour": is not a field of OrderPlaced/,
    );
  });

  it("rejects the wrong shape", () => {
    expect(failure(() => order.coerce({ lines: "A-1" })).message).toMatch(/is not an array/);
  });
});

describe("unions", () => {
  it("picks the first branch the value coerces to", () => {
    const union = ["null", "long", "string"];
    expect(coerceV(union, 5n)).toEqual({ long: 5n });
    expect(coerceV(union, 1.5)).toEqual({ string: "1.5" });
    expect(coerceV(union, "x")).toEqual({ string: "x" });
  });

  it("reports every branch's reason when none fits", () => {
    expect(rejects(["null", "int", "boolean"], "x")).toMatch(/matches no branch of union<null,int,boolean>/);
  });

  it("rejects null without a null branch", () => {
    expect(rejects(["int", "string"], null)).toMatch(/required/);
  });
});

describe("unavailable columns", () => {
  it("rejects the UNAVAILABLE marker and its text form, in any type", () => {
    for (const type of ["string", ["null", "string"], "long", decimal12_2]) {
      expect(rejects(type, UNAVAILABLE)).toMatch(/maps an unavailable \(unchanged TOAST\/LOB\) column/);
    }
    expect(rejects("string", "__debezium_unavailable_value")).toMatch(/maps an unavailable/);
    expect(rejects("string", { doc: UNAVAILABLE })).toMatch(/maps an unavailable/);
    expect(rejects({ type: "array", items: "string" }, ["a", UNAVAILABLE])).toMatch(
      /^field "v\[1\]": maps an unavailable/,
    );
  });
});
