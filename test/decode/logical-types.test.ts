// Logical types decoded from hand-made Connect schemas: sign extension, negative scale, pre-1970 dates,
// values beyond 2^53, placeholders, maps, arrays with nulls.
import { describe, expect, it } from "vitest";
import { DecodeError, UNAVAILABLE, type ColumnValue, type Row } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { sourceRecord } from "./fixtures.js";

const SOURCE_SCHEMA =
  '{"type":"struct","optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source","fields":[' +
  '{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},' +
  '{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":false,"field":"schema"},' +
  '{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"lsn"}]}';
const SOURCE =
  '{"connector":"postgresql","name":"t","ts_ms":1710497311110,"schema":"s","table":"t","lsn":42}';

/** A Debezium create event whose `after` has one column `v` of the given Connect schema and JSON value. */
function valueText(columnSchema: string, columnValue: string): string {
  const column = columnSchema.replace(/^\{/, '{"field":"v",');
  return (
    '{"schema":{"type":"struct","optional":false,"name":"t.s.t.Envelope","fields":[' +
    `{"type":"struct","optional":true,"name":"t.s.t.Value","field":"after","fields":[${column}]},` +
    `${SOURCE_SCHEMA},{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"}]},` +
    `"payload":{"after":{"v":${columnValue}},"source":${SOURCE},"op":"c","ts_ms":1710497311377}}`
  );
}

function decodeColumn(columnSchema: string, columnValue: string): ColumnValue | undefined {
  const d = decodeDebeziumJson(sourceRecord("t.s.t", null, valueText(columnSchema, columnValue)));
  if (d.kind !== "change") throw new Error(`expected a change, got ${d.kind}`);
  return (d.event.after as Row).v;
}

const decimal = (scale: number) =>
  `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"${scale}"}}`;
const named = (type: string, name: string) => `{"type":"${type}","optional":true,"name":"${name}"}`;
const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

describe("Decimal (base64 two's complement)", () => {
  it.each([
    ["01E240", 2, "1234.56"],
    ["01F4", 2, "5.00"], // MONEY '$5.00': trailing zeros of the scale kept
    ["FF38", 0, "-200"], // sign extension: 0xFF38 is -200, not 65336
    ["FF38", 2, "-2.00"],
    ["80", 0, "-128"],
    ["0080", 0, "128"],
    ["05", 2, "0.05"],
    ["FB", 2, "-0.05"],
    ["00", 3, "0.000"],
    ["0C", -2, "1200"], // Oracle NUMBER(p,-2): unscaled × 10^2
    ["018EE90FF6C373E0EE4E3F0AD2", 0, "123456789012345678901234567890"],
    ["FE7116F0093C8C1F11B1C0F52E", 10, "-12345678901234567890.1234567890"],
    ["8000000000000000", 0, "-9223372036854775808"],
  ])("0x%s scale %i → %s", (hex, scale, expected) => {
    expect(decodeColumn(decimal(scale), JSON.stringify(b64(hex)))).toBe(expected);
  });

  it("VariableScaleDecimal uses the per-value scale, negative values included", () => {
    const vsd =
      '{"type":"struct","optional":true,"name":"io.debezium.data.VariableScaleDecimal","fields":[' +
      '{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]}';
    expect(decodeColumn(vsd, '{"scale":4,"value":"Azk="}')).toBe("0.0825");
    expect(decodeColumn(vsd, `{"scale":3,"value":"${b64("FB2E")}"}`)).toBe("-1.234");
    expect(decodeColumn(vsd, `{"scale":0,"value":"${b64("7B")}"}`)).toBe("123");
    expect(decodeColumn(vsd, "null")).toBeNull();
  });

  it("decimal.handling.mode=string keeps special values as sent", () => {
    expect(decodeColumn('{"type":"string","optional":true}', '"NAN"')).toBe("NAN");
    expect(decodeColumn('{"type":"string","optional":true}', '"POSITIVE_INFINITY"')).toBe(
      "POSITIVE_INFINITY",
    );
    expect(decodeColumn('{"type":"string","optional":true}', '"22.2200"')).toBe("22.2200");
  });

  it("decimal.handling.mode=double gives numbers, non-finite ones included", () => {
    expect(decodeColumn('{"type":"double","optional":true}', "1.2345678901234567E19")).toBe(
      1.2345678901234567e19,
    );
    expect(decodeColumn('{"type":"double","optional":true}', '"NaN"')).toBeNaN();
    expect(decodeColumn('{"type":"double","optional":true}', '"Infinity"')).toBe(Infinity);
    expect(decodeColumn('{"type":"float","optional":true}', '"-Infinity"')).toBe(-Infinity);
  });
});

describe("integers", () => {
  it("int64 beyond 2^53 is exact", () => {
    expect(decodeColumn('{"type":"int64","optional":true}', "9223372036854775807")).toBe(
      9223372036854775807n,
    );
    expect(decodeColumn('{"type":"int64","optional":true}', "-9223372036854775808")).toBe(
      -9223372036854775808n,
    );
    expect(decodeColumn('{"type":"int64","optional":true}', "9007199254740993")).toBe(9007199254740993n);
  });

  it("small ints are bigint too (CEL int)", () => {
    expect(decodeColumn('{"type":"int16","optional":true}', "-7")).toBe(-7n);
    expect(decodeColumn('{"type":"int8","optional":true}', "3")).toBe(3n);
  });

  it("MicroDuration stays microseconds", () => {
    expect(decodeColumn(named("int64", "io.debezium.time.MicroDuration"), "-110451600000000")).toBe(
      -110451600000000n,
    );
  });
});

describe("temporal types", () => {
  it.each([
    [named("int32", "io.debezium.time.Date"), "19797", "2024-03-15"],
    [named("int32", "io.debezium.time.Date"), "-1", "1969-12-31"],
    [named("int32", "io.debezium.time.Date"), "-719162", "0001-01-01"],
    [named("int32", "io.debezium.time.Date"), "2932896", "9999-12-31"],
    [named("int32", "io.debezium.time.Date"), "2932897", "+10000-01-01"],
    [named("int32", "org.apache.kafka.connect.data.Date"), "19797", "2024-03-15"],
    [named("int32", "io.debezium.time.Time"), "49890123", "13:51:30.123"],
    [named("int64", "io.debezium.time.MicroTime"), "49890123456", "13:51:30.123456"],
    [named("int64", "io.debezium.time.MicroTime"), "86400000000", "24:00:00.000000"],
    [named("int64", "io.debezium.time.NanoTime"), "49890123456789", "13:51:30.123456789"],
    [named("int32", "org.apache.kafka.connect.data.Time"), "49890123", "13:51:30.123"],
    [named("int64", "io.debezium.time.Timestamp"), "1710497730000", "2024-03-15T10:15:30.000Z"],
    [named("int64", "io.debezium.time.Timestamp"), "-1", "1969-12-31T23:59:59.999Z"],
    [named("int64", "org.apache.kafka.connect.data.Timestamp"), "1710497730123", "2024-03-15T10:15:30.123Z"],
    [named("int64", "io.debezium.time.MicroTimestamp"), "1710497730123456", "2024-03-15T10:15:30.123456Z"],
    [named("int64", "io.debezium.time.MicroTimestamp"), "-2208988799999995", "1900-01-01T00:00:00.000005Z"],
    [named("int64", "io.debezium.time.MicroTimestamp"), "-1", "1969-12-31T23:59:59.999999Z"],
    [
      named("int64", "io.debezium.time.NanoTimestamp"),
      "1522154096125456789",
      "2018-03-27T12:34:56.125456789Z",
    ],
    [named("int64", "io.debezium.time.NanoTimestamp"), "-1", "1969-12-31T23:59:59.999999999Z"],
  ])("%s %s → %s", (schema, json, expected) => {
    expect(decodeColumn(schema, json)).toBe(expected);
  });

  it.each([
    ["io.debezium.time.ZonedTimestamp", "2018-03-27T01:34:56.007891-11:00"],
    ["io.debezium.time.ZonedTimestamp", "+21016-11-04T11:51:30.123456Z"],
    ["io.debezium.time.ZonedTimestamp", "infinity"],
    ["io.debezium.time.ZonedTime", "11:51:30.123789Z"],
    ["io.debezium.time.IsoTimestamp", "2018-03-27T12:34:56.125456789Z"],
    ["io.debezium.time.Interval", "P1Y2M3DT4H5M6.78S"],
  ])("%s keeps %s as sent", (name, text) => {
    expect(decodeColumn(named("string", name), JSON.stringify(text))).toBe(text);
  });
});

describe("strings, bytes, structured", () => {
  it("Json is parsed, integers as bigint", () => {
    expect(
      decodeColumn(
        named("string", "io.debezium.data.Json"),
        '"{\\"n\\": 12345678901234567890, \\"f\\": 1.5}"',
      ),
    ).toEqual({
      n: 12345678901234567890n,
      f: 1.5,
    });
  });

  it("Uuid, Enum, Xml stay strings", () => {
    expect(
      decodeColumn(named("string", "io.debezium.data.Uuid"), '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'),
    ).toBe("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    expect(decodeColumn(named("string", "io.debezium.data.Xml"), '"<a>1</a>"')).toBe("<a>1</a>");
    expect(decodeColumn(named("string", "io.debezium.data.EnumSet"), '"a,b"')).toBe("a,b");
  });

  it("bytes and Bits become Uint8Array", () => {
    expect(decodeColumn('{"type":"bytes","optional":true}', '"JVBERi0xLjc="')).toEqual(
      Uint8Array.from(Buffer.from("%PDF-1.7")),
    );
    const bits =
      '{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","parameters":{"length":"3"}}';
    expect(decodeColumn(bits, '"BQ=="')).toEqual(Uint8Array.of(5));
  });

  it("array items may be null", () => {
    const schema = '{"type":"array","optional":true,"items":{"type":"int32","optional":true}}';
    expect(decodeColumn(schema, "[1,null,3]")).toEqual([1n, null, 3n]);
  });

  it("maps (object and [key,value] forms) and nested structs", () => {
    const map =
      '{"type":"map","optional":true,"keys":{"type":"string"},"values":{"type":"string","optional":true}}';
    expect(decodeColumn(map, '{"a":"1","b":null}')).toEqual({ a: "1", b: null });
    const intMap = '{"type":"map","optional":true,"keys":{"type":"int32"},"values":{"type":"int64"}}';
    expect(decodeColumn(intMap, "[[1,10],[2,20]]")).toEqual({ "1": 10n, "2": 20n });
    const point =
      '{"type":"struct","optional":true,"name":"io.debezium.data.geometry.Point","fields":[' +
      '{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},' +
      '{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}]}';
    expect(decodeColumn(point, '{"x":1.5,"y":-2,"wkb":null,"srid":4326}')).toEqual({
      x: 1.5,
      y: -2,
      wkb: null,
      srid: 4326n,
    });
  });
});

describe("unavailable placeholders (TYPES.md forms)", () => {
  const P = "__debezium_unavailable_value";
  it.each([
    ['{"type":"string","optional":true}', JSON.stringify(P)],
    [named("string", "io.debezium.data.Json"), JSON.stringify(P)],
    [named("string", "io.debezium.data.Json"), JSON.stringify(JSON.stringify({ [P]: P }))],
    [named("string", "io.debezium.data.Xml"), JSON.stringify(P)],
    ['{"type":"bytes","optional":true}', '"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="'],
    ['{"type":"array","optional":true,"items":{"type":"string","optional":true}}', JSON.stringify([P])],
    [
      '{"type":"array","optional":true,"items":{"type":"int32","optional":true}}',
      JSON.stringify([...Buffer.from(P)]),
    ],
    [
      '{"type":"array","optional":true,"items":{"type":"string","optional":true,"name":"io.debezium.data.Uuid"}}',
      '["b68a35a7-17ad-35b3-af2a-ae46edb4545a"]',
    ],
    [
      '{"type":"map","optional":true,"keys":{"type":"string"},"values":{"type":"string","optional":true}}',
      JSON.stringify({ [P]: P }),
    ],
  ])("%s %s → UNAVAILABLE", (schema, json) => {
    expect(decodeColumn(schema, json)).toBe(UNAVAILABLE);
  });

  it("an int array that merely resembles the placeholder prefix is data", () => {
    const schema = '{"type":"array","optional":true,"items":{"type":"int32","optional":true}}';
    expect(decodeColumn(schema, "[95,95,100]")).toEqual([95n, 95n, 100n]);
  });
});

describe("type mismatches name the field", () => {
  it.each([
    [decimal(2), "1234.56", "after.v: expected base64 Decimal bytes, got number"],
    ['{"type":"int64","optional":true}', '"12"', "after.v: expected an integer, got string"],
    ['{"type":"int32","optional":true}', "1.5", "after.v: expected an integer, got number"],
    ['{"type":"string","optional":true}', "12", "after.v: expected string, got number"],
    ['{"type":"boolean","optional":true}', '"true"', "after.v: expected boolean, got string"],
    ['{"type":"array","optional":true,"items":{"type":"int32"}}', "[1,null]", "after.v[]: expected a int32"],
    [
      '{"type":"string","optional":false}',
      "null",
      "after.v: expected a string (field is not optional), got null",
    ],
    [named("int32", "io.debezium.time.Date"), '"2024-03-15"', "after.v: expected an integer day count"],
    [named("string", "io.debezium.data.Json"), '"{oops"', "after.v: Json column is not valid JSON"],
    ['{"type":"bogus","optional":true}', "1", 'after.v: unsupported Connect schema type "bogus"'],
  ])("%s with %s", (schema, json, message) => {
    expect(() => decodeColumn(schema, json)).toThrow(DecodeError);
    expect(() => decodeColumn(schema, json)).toThrow(message);
  });
});
