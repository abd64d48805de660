// Hostile Debezium records at the decoder: each is a DecodeError naming the field, or the exact value —
// never a value changed on the way (rounded, replaced, truncated) and never an exception of another kind.
import { describe, expect, it } from "vitest";
import {
  DecodeError,
  type ChangeEvent,
  type DecodedRecord,
  type Row,
} from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { compileAvroSchema } from "../../src/decode/avro-connect.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { sourceRecord } from "./fixtures.js";

const SOURCE_SCHEMA =
  '{"type":"struct","optional":false,"field":"source","fields":[' +
  '{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},' +
  '{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"field":"schema"},' +
  '{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"lsn"}]}';
const SOURCE =
  '{"connector":"postgresql","name":"dbserver1","ts_ms":1710497000000,"schema":"inventory","table":"t","lsn":100}';

/**
 * A JsonConverter record of table inventory.t whose `after` has the given column schemas and the given
 * payload text (kept as written, so literals such as 1e400 reach the decoder as they are).
 */
function record(columns: object[], afterText: string, op = "c"): DecodedRecord {
  const schema =
    '{"type":"struct","optional":false,"name":"dbserver1.inventory.t.Envelope","fields":[' +
    `{"type":"struct","optional":true,"field":"before","fields":${JSON.stringify(columns)}},` +
    `{"type":"struct","optional":true,"field":"after","fields":${JSON.stringify(columns)}},` +
    `${SOURCE_SCHEMA},{"type":"string","optional":false,"field":"op"}]}`;
  const value = `{"schema":${schema},"payload":{"before":null,"after":${afterText},"source":${SOURCE},"op":"${op}"}}`;
  return decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, value));
}

function after(d: DecodedRecord): Row {
  if (d.kind !== "change") throw new Error(`expected a change, got ${d.kind}`);
  return (d.event as ChangeEvent).after as Row;
}

const col = (field: string, type: string, extra: object = {}) => ({ type, optional: true, field, ...extra });

describe("numbers", () => {
  it.each([
    ["int8", "128", /after\.n: 128 is out of range for int8/],
    ["int16", "-32769", /after\.n: -32769 is out of range for int16/],
    ["int32", "2147483648", /after\.n: 2147483648 is out of range for int32/],
    ["int64", "9223372036854775808", /after\.n: 9223372036854775808 is out of range for int64/],
    ["int64", "-9223372036854775809", /out of range for int64/],
    ["int64", "1.5", /after\.n: expected an integer/],
    ["int64", "1e400", /after\.n: expected an integer/],
    ["float64", "1e400", /after\.n: .* out of range for float64/],
    ["float64", "-1e400", /out of range for float64/],
    ["float32", "1e39", /after\.n: .* out of range for float32/],
    ["float64", '"1.5"', /after\.n: expected a floating-point number/],
    ["float64", '"nan"', /after\.n: expected a floating-point number/],
  ])("%s %s is a DecodeError", (type, literal, message) => {
    expect(() => record([col("n", type)], `{"n":${literal}}`)).toThrow(message);
    expect(() => record([col("n", type)], `{"n":${literal}}`)).toThrow(DecodeError);
  });

  it.each([
    ["int64", "9223372036854775807", 9223372036854775807n],
    ["int64", "-9223372036854775808", -9223372036854775808n],
    ["int8", "-128", -128n],
    ["float64", '"NaN"', NaN],
    ["float64", '"Infinity"', Infinity],
    ["float64", '"-Infinity"', -Infinity],
    ["float64", "1.7976931348623157e308", 1.7976931348623157e308],
    ["float32", "3.4028235e38", 3.4028235e38],
  ])("%s %s is exact", (type, literal, value) => {
    expect(after(record([col("n", type)], `{"n":${literal}}`)).n).toEqual(value);
  });
});

describe("logical types", () => {
  const decimal = (scale: string) =>
    col("d", "bytes", { name: "org.apache.kafka.connect.data.Decimal", parameters: { scale } });

  it.each([
    ['"AeJ*A"', /after\.d: string "AeJ\*A" is not base64/],
    ['"AeJA A"', /not base64/],
    ['"A"', /not base64/],
    ['"AeJA="', /not base64/],
    ['""', /after\.d: expected base64 Decimal bytes/],
    ["12.5", /after\.d: expected base64 Decimal bytes, got number/],
  ])("Decimal bytes %s is a DecodeError, never a changed value", (text, message) => {
    expect(() => record([decimal("2")], `{"d":${text}}`)).toThrow(message);
  });

  it("Decimal bytes with or without padding decode exactly", () => {
    expect(after(record([decimal("2")], '{"d":"AeJA"}')).d).toBe("1234.56");
    expect(after(record([decimal("2")], '{"d":"AfQ="}')).d).toBe("5.00");
    expect(after(record([decimal("2")], '{"d":"AfQ"}')).d).toBe("5.00");
  });

  it("a Decimal scale far beyond any column's is a DecodeError (no string of a billion zeros)", () => {
    expect(() => record([decimal("1000000000")], '{"d":"AQ=="}')).toThrow(/invalid scale/);
    const vsd = col("v", "struct", {
      name: "io.debezium.data.VariableScaleDecimal",
      fields: [
        { type: "int32", optional: false, field: "scale" },
        { type: "bytes", optional: false, field: "value" },
      ],
    });
    expect(() => record([vsd], '{"v":{"scale":1000000000,"value":"AQ=="}}')).toThrow(/after\.v/);
  });

  it("plain bytes that are not base64 are a DecodeError", () => {
    expect(() => record([col("b", "bytes")], '{"b":"ab$cd"}')).toThrow(/after\.b: .*not base64/);
    expect(after(record([col("b", "bytes")], '{"b":""}')).b).toEqual(new Uint8Array());
  });

  it("times of day past 24:00:00 and negative are DecodeErrors; 24:00:00 is kept", () => {
    const time = col("t", "int64", { name: "io.debezium.time.MicroTime" });
    expect(after(record([time], '{"t":86400000000}')).t).toBe("24:00:00.000000");
    expect(() => record([time], '{"t":86400000001}')).toThrow(/after\.t: expected microseconds of the day/);
    expect(() => record([time], '{"t":-1}')).toThrow(/after\.t/);
  });

  it("wrong JSON types for logical types name the field", () => {
    const date = col("d", "int32", { name: "io.debezium.time.Date" });
    expect(() => record([date], '{"d":"2024-01-01"}')).toThrow(/after\.d: expected an integer day count/);
    expect(() => record([date], '{"d":3000000000}')).toThrow(
      /after\.d: 3000000000 is out of range for int32/,
    );
    const ts = col("ts", "int64", { name: "io.debezium.time.MicroTimestamp" });
    expect(() => record([ts], '{"ts":true}')).toThrow(/after\.ts: expected epoch microseconds/);
    expect(() => record([ts], '{"ts":99999999999999999999}')).toThrow(/out of range for int64/);
    const json = col("j", "string", { name: "io.debezium.data.Json" });
    expect(() => record([json], '{"j":"{not json"}')).toThrow(/after\.j: Json column is not valid JSON/);
  });
});

describe("strings and names", () => {
  it("a lone surrogate escape (no UTF-8 form) is a DecodeError, a pair is kept", () => {
    expect(() => record([col("s", "string")], '{"s":"a\\ud800b"}')).toThrow(/after\.s: .*lone surrogate/);
    expect(() => record([col("s", "string")], '{"s":"\\udc00"}')).toThrow(/lone surrogate/);
    expect(after(record([col("s", "string")], '{"s":"\\ud83d\\ude00"}')).s).toBe("😀");
  });

  it("a Json column whose document has a lone surrogate escape is a DecodeError", () => {
    const json = col("j", "string", { name: "io.debezium.data.Json" });
    expect(() => record([json], '{"j":"{\\"a\\":[\\"x\\\\ud800\\"]}"}')).toThrow(
      /after\.j: .*lone surrogate/,
    );
    expect(after(record([json], '{"j":"{\\"a\\":\\"\\\\ud83d\\\\ude00\\"}"}')).j).toEqual({ a: "😀" });
  });

  it("columns named like Object.prototype members are columns like any other", () => {
    const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];
    const row = after(
      record(
        names.map((n) => col(n, "string")),
        '{"constructor":"C","__proto__":"P","toString":"T","hasOwnProperty":"H","valueOf":"V"}',
      ),
    );
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row)).toEqual([
      ["constructor", "C"],
      ["__proto__", "P"],
      ["toString", "T"],
      ["hasOwnProperty", "H"],
      ["valueOf", "V"],
    ]);
  });

  it("an optional column named toString that is absent is null, not Object.prototype.toString", () => {
    const row = after(record([col("id", "int32"), col("toString", "string")], '{"id":1}'));
    expect(Object.hasOwn(row, "toString")).toBe(true);
    expect(row.toString).toBeNull();
  });

  it("schemaless: a number literal beyond a double is a DecodeError, not Infinity", () => {
    const value = `{"op":"c","source":${SOURCE},"before":null,"after":{"id":1,"f":-1e400}}`;
    expect(() => decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, value))).toThrow(
      /out of range for float64/,
    );
  });

  it("schemaless: a __proto__ column is an own column, not the row's prototype", () => {
    const value = `{"op":"c","source":${SOURCE},"before":null,"after":{"id":1,"__proto__":{"x":1},"toString":"T"}}`;
    const row = after(decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, value)));
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row)).toEqual(["id", "__proto__", "toString"]);
    expect(Object.getOwnPropertyDescriptor(row, "__proto__")?.value).toEqual({ x: 1n });
  });
});

describe("envelopes", () => {
  const change = (op: string, before: string, afterRow: string, extra = "") =>
    decodeDebeziumJson(
      sourceRecord(
        "dbserver1.inventory.t",
        null,
        `{"op":"${op}","source":${SOURCE},"before":${before},"after":${afterRow}${extra}}`,
      ),
    );

  it.each([
    ["u", "null", "null", /op "u" without an after image/],
    ["c", "null", "null", /op "c" without an after image/],
    ["r", '{"id":1}', "null", /op "r" without an after image/],
    ["d", "null", "null", /op "d" without a before image/],
    ["x", "null", '{"id":1}', /op: unknown operation "x"/],
    ["", "null", '{"id":1}', /op: unknown operation ""/],
  ])("op %s with before %s, after %s is a DecodeError", (op, before, afterRow, message) => {
    expect(() => change(op, before, afterRow)).toThrow(message);
  });

  it("u with only an after image (REPLICA IDENTITY DEFAULT), t with none, are changes", () => {
    expect(change("u", "null", '{"id":1}').kind).toBe("change");
    expect(change("t", "null", "null").kind).toBe("change");
  });

  it("source.ts_ms outside a JS Date's range, negative or fractional is a DecodeError", () => {
    for (const ts of ["8640000000000001", "-1", "1e20", "1.5", '"2024-01-01"', "null"]) {
      const value = `{"op":"c","source":${SOURCE.replace("1710497000000", ts)},"before":null,"after":{"id":1}}`;
      expect(() => decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, value)), ts).toThrow(
        /source\.ts_ms/,
      );
    }
  });

  it("an envelope ts_ms outside a JS Date's range is a DecodeError", () => {
    expect(() => change("c", "null", '{"id":1}', ',"ts_ms":9e15')).toThrow(/ts_ms/);
  });

  it("log positions that are no integers are DecodeErrors (positions are compared as integers)", () => {
    const withSource = (source: string) =>
      decodeDebeziumJson(
        sourceRecord(
          "dbserver1.inventory.t",
          null,
          `{"op":"c","source":${source},"before":null,"after":{"id":1}}`,
        ),
      );
    const pg = (extra: string) =>
      `{"connector":"postgresql","name":"dbserver1","ts_ms":1,"schema":"inventory","table":"t"${extra}}`;
    expect(() => withSource(pg(',"lsn":"abc"'))).toThrow(/source\.lsn: expected a log position/);
    expect(() => withSource(pg(',"lsn":-5'))).toThrow(/source\.lsn: expected a log position/);
    expect(() => withSource(pg(',"lsn":5,"sequence":"[\\"x\\",\\"5\\"]"'))).toThrow(/source\.sequence\[0\]/);
    const ora = (extra: string) =>
      `{"connector":"oracle","name":"server1","ts_ms":1,"schema":"DEBEZIUM","table":"T"${extra}}`;
    expect(() => withSource(ora(',"scn":"12x"'))).toThrow(/source\.scn: expected a log position/);
    const ok = withSource(ora(',"scn":"123","commit_scn":"124"'));
    expect(ok.kind === "change" && ok.event.position).toMatchObject({ commit: "124", change: "123" });
    // other connectors: coordinates that are no integers are kept as the position's detail
    const other = withSource(
      '{"connector":"sqlserver","name":"s","ts_ms":1,"schema":"dbo","table":"t","commit_lsn":"0000002b:00000d30:0003","change_lsn":"0000002b:00000d30:0002"}',
    );
    expect(other.kind === "change" && other.event.position).toMatchObject({
      commit: "0",
      change: "0",
      detail: "0000002b:00000d30:0003/0000002b:00000d30:0002",
    });
  });

  it("a Postgres logical-decoding message (op m) is a message, on its topic or a table's", () => {
    const message =
      '{"op":"m","ts_ms":1710497000500,"source":{"connector":"postgresql","name":"dbserver1","ts_ms":1710497000400,' +
      '"schema":"","table":"","lsn":5},"message":{"prefix":"audit","content":"aGVsbG8="}}';
    for (const topic of ["dbserver1.message", "dbserver1.inventory.t"]) {
      expect(decodeDebeziumJson(sourceRecord(topic, null, message))).toEqual({
        kind: "message",
        prefix: "audit",
      });
    }
  });

  it("records without op: markers on their topics, DecodeErrors on data topics", () => {
    const opts = { topicPrefix: "dbserver1" };
    const hb = '{"ts_ms":1710497000000}';
    expect(decodeDebeziumJson(sourceRecord("__debezium-heartbeat.dbserver1", null, hb), opts)).toEqual({
      kind: "heartbeat",
      tsMs: 1710497000000,
    });
    expect(() =>
      decodeDebeziumJson(sourceRecord("__debezium-heartbeat.dbserver1", null, '{"foo":1}'), opts),
    ).toThrow(/ts_ms: expected an integer/);
    expect(() => decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, hb), opts)).toThrow(
      /no "op"/,
    );
    expect(() =>
      decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, '{"status":"BEGIN","id":"1"}'), opts),
    ).toThrow(/no "op"/);
    expect(() => decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, "{}"))).toThrow(/no "op"/);
  });

  it("tombstones and key-only records are tombstones; an empty value is a DecodeError", () => {
    expect(decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", '{"id":1}', null))).toEqual({
      kind: "tombstone",
      key: { id: 1n },
    });
    expect(() => decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", '{"id":1}', ""))).toThrow(
      /empty value/,
    );
  });

  it("bytes that are not UTF-8 are a DecodeError (never decoded with replacement characters)", () => {
    const value = Buffer.concat([
      Buffer.from(`{"op":"c","source":${SOURCE},"before":null,"after":{"s":"`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]);
    const record = { ...sourceRecord("dbserver1.inventory.t", null, null), value };
    expect(() => decodeDebeziumJson(record)).toThrow(/value: not valid UTF-8/);
    const key = { ...sourceRecord("dbserver1.inventory.t", null, "{}"), key: Buffer.from([0xff]) };
    expect(() => decodeDebeziumJson(key)).toThrow(/key: not valid UTF-8/);
  });

  it("a UTF-8 byte-order mark before a key or value is ignored, as JSON parsers may", () => {
    const value = `\uFEFF{"op":"c","source":${SOURCE},"before":null,"after":{"id":1}}`;
    const decoded = decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", '\uFEFF{"id":1}', value));
    expect(decoded.kind === "change" && [decoded.event.key, decoded.event.after]).toEqual([
      { id: 1n },
      { id: 1n },
    ]);
  });

  it("JSON nested far too deep is a DecodeError saying so", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    const value = `{"op":"c","source":${SOURCE},"before":null,"after":{"j":${deep}}}`;
    let error: unknown;
    try {
      decodeDebeziumJson(sourceRecord("dbserver1.inventory.t", null, value));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).message).toMatch(/nested too deeply/);
  });
});

describe("kcat lines", () => {
  const line = (fields: object) =>
    JSON.stringify({
      topic: "t",
      partition: 0,
      offset: 1,
      ts: 1,
      headers: [],
      key: null,
      payload: "{}",
      ...fields,
    });

  it("a payload string with a lone surrogate has no UTF-8 bytes: DecodeError", () => {
    expect(() => parseKcatLine(line({ payload: "a\ud800" }))).toThrow(/payload: a lone surrogate/);
  });

  it("a timestamp beyond a JS Date's range is a DecodeError, -1 is none", () => {
    expect(() => parseKcatLine(line({ ts: 1e17 }))).toThrow(/ts: expected epoch milliseconds/);
    expect(parseKcatLine(line({ ts: -1 })).timestamp).toBeNull();
  });

  it("a key or payload given as a JSON value (not a string) is its text as written, never re-serialised", () => {
    // re-serialising the parsed value would turn 1e400 into null and -0.0 into 0: changed values
    const payload = '{ "op":"c", "after":{"f":1e400,"g":-0.0,"h":1.50,"u":"\\u00e9"} , "x":[1,{"y":2}]}';
    const key = '{"id": 9007199254740993}';
    const text = `{"topic":"t","partition":0,"offset":1,"key":${key},"payload":${payload},"ts":1}`;
    const record = parseKcatLine(text);
    expect(record.value?.toString("utf8")).toBe(payload);
    expect(record.key?.toString("utf8")).toBe(key);
    // a repeated member: the last one counts, as for every other member (JSON.parse)
    const twice = parseKcatLine(`{"topic":"t","payload":{"a":1},"offset":1,"payload" : [2 ,3] }`);
    expect(twice.value?.toString("utf8")).toBe("[2 ,3]");
    expect(parseKcatLine(`{"topic":"t","payload":-1.0E+2}`).value?.toString("utf8")).toBe("-1.0E+2");
    expect(parseKcatLine(`{"topic":"t","payload":true}`).value?.toString("utf8")).toBe("true");
  });

  it("a number of the wrong kind is named in the error, not only its type", () => {
    expect(() => parseKcatLine(line({ partition: -1 }))).toThrow(
      "partition: expected a partition number, got number -1",
    );
    expect(() => parseKcatLine(line({ offset: 5.5 }))).toThrow("got number 5.5");
    expect(() =>
      record([col("t", "int64", { name: "io.debezium.time.MicroTime" })], '{"t":86400000001}'),
    ).toThrow(/after\.t: .*got number 86400000001/);
  });

  it("a header named __proto__ is a header", () => {
    const headers = parseKcatLine(line({ headers: ["__proto__", "x", "a", "b"] })).headers;
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(Object.entries(headers)).toEqual([
      ["__proto__", "x"],
      ["a", "b"],
    ]);
  });
});

describe("AvroConverter bodies", () => {
  const schema = JSON.stringify({
    type: "record",
    name: "R",
    fields: [
      { name: "s", type: "string" },
      { name: "o", type: ["null", "string"], default: null },
    ],
  });
  /** Avro binary: zigzag length, then the bytes; the optional field as union branch 1. */
  const body = (s: number[], o: number[]) => Buffer.from([s.length * 2, ...s, 2, o.length * 2, ...o]);

  it("a string that is not UTF-8 is a DecodeError naming the field, never replacement characters", () => {
    const compiled = compileAvroSchema(schema);
    expect(compiled.read(body([0x6f, 0x6b], [0xc3, 0xa9]), "value")).toEqual({ s: "ok", o: "é" });
    expect(() => compiled.read(body([0xc3, 0x28], [0x61]), "value")).toThrow(/value: .*not valid UTF-8/);
    expect(() => compiled.read(body([0x61], [0xed, 0xa0, 0x80]), "value")).toThrow(/not valid UTF-8/);
  });

  it("a field named toString is a column like any other", () => {
    const compiled = compileAvroSchema(
      JSON.stringify({ type: "record", name: "P", fields: [{ name: "toString", type: "string" }] }),
    );
    const row = compiled.read(Buffer.from([2, 0x54]), "value") as Row;
    expect(Object.entries(row)).toEqual([["toString", "T"]]);
  });
});
