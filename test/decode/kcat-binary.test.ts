// The binary-safe capture line format (docs/records.md): bytes that are not UTF-8 text — Confluent Avro with its
// 0x00 magic byte, invalid UTF-8 — go through a capture line and come back exactly; plain kcat -J lines are
// read as before.
import { describe, expect, it } from "vitest";
import {
  formatCaptureLine,
  formatSchemaLine,
  parseCaptureLine,
  parseKcatLine,
  type CapturedRecord,
} from "../../src/decode/kcat.js";

const AVRO = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0xd2, 0x0f, 0x00, 0xff]);
const INVALID_UTF8 = Buffer.from([0x61, 0xc3, 0x28, 0x80, 0xfe, 0xff, 0xed, 0xa0, 0x80, 0x00]);
const TEXT = Buffer.from('{"id":1005,"name":"Zoë ✓ \\u0000","nul":"\u0000","crlf":"\r\n"}', "utf8");

function captured(over: Partial<CapturedRecord>): CapturedRecord {
  return {
    topic: "dbserver1.inventory.customers",
    partition: 2,
    offset: "9007199254740993",
    timestamp: 1710497000123,
    headers: [],
    key: null,
    value: null,
    ...over,
  };
}

function roundTrip(r: CapturedRecord, base64?: boolean) {
  const line = formatCaptureLine(r, base64 === undefined ? {} : { base64 });
  expect(line).not.toMatch(/[\n\r]/); // one record, one line
  const back = parseCaptureLine(line);
  if (back.kind !== "record") throw new Error("expected a record line");
  return { line, record: back.record };
}

describe("capture lines", () => {
  it("carry bytes with 0x00 and invalid UTF-8 exactly (base64), in key and payload", () => {
    for (const bytes of [AVRO, INVALID_UTF8, Buffer.from([0x00]), Buffer.alloc(0)]) {
      const { line, record } = roundTrip(captured({ key: bytes, value: bytes }), true);
      expect(line).toContain('"payloadEncoding":"base64"');
      expect(record.key!.equals(bytes)).toBe(true);
      expect(record.value!.equals(bytes)).toBe(true);
    }
    // without base64 forced, only the field that is not UTF-8 is base64
    const { line, record } = roundTrip(captured({ key: TEXT, value: INVALID_UTF8 }));
    expect(line).toContain('"payloadEncoding":"base64"');
    expect(line).not.toContain("keyEncoding");
    expect(record.key!.equals(TEXT)).toBe(true);
    expect(record.value!.equals(INVALID_UTF8)).toBe(true);
  });

  it("keep UTF-8 text as kcat prints it, byte for byte (BOM, NUL, CR/LF, non-ASCII)", () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), TEXT]);
    const { line, record } = roundTrip(captured({ key: bom, value: TEXT }));
    expect(line).not.toContain("Encoding");
    expect(record.key!.equals(bom)).toBe(true);
    expect(record.value!.equals(TEXT)).toBe(true);
  });

  it("keep coordinates, timestamp, nulls and headers (repeats: last wins, binary values as the worker reads them)", () => {
    const { record } = roundTrip(
      captured({
        headers: [
          ["trace", "a"],
          ["bin", Buffer.from([0xff, 0x00])],
          ["trace", "b"],
        ],
        key: null,
        value: null,
      }),
    );
    expect(record).toEqual({
      topic: "dbserver1.inventory.customers",
      partition: 2,
      offset: "9007199254740993",
      timestamp: 1710497000123,
      headers: { trace: "b", bin: Buffer.from([0xff, 0x00]).toString("utf8") },
      key: null,
      value: null,
    });
    expect(roundTrip(captured({ timestamp: null })).record.timestamp).toBeNull();
  });

  it("plain kcat -J lines read unchanged", () => {
    const line = JSON.stringify({
      topic: "t",
      partition: 0,
      offset: 4,
      tstype: "create",
      ts: 1,
      broker: 1,
      headers: ["h", "v"],
      key: "k",
      payload: "AAAA",
    });
    const r = parseKcatLine(line);
    expect(r.key!.toString("utf8")).toBe("k");
    // without payloadEncoding, base64-looking text is text
    expect(r.value!.toString("utf8")).toBe("AAAA");
    expect(r.headers).toEqual({ h: "v" });
  });

  it("schema lines round-trip and are not records", () => {
    const schema = JSON.stringify({ type: "record", name: "Key", fields: [{ name: "id", type: "int" }] });
    const line = formatSchemaLine(4294967295, schema);
    expect(parseCaptureLine(line)).toEqual({ kind: "schema", schemaId: 4294967295, schema });
    expect(() => parseKcatLine(line)).toThrow(/writer schema line \(schema id 4294967295\)/);
  });

  it("reject malformed encodings and schema lines with a clear error", () => {
    const base = { topic: "t", partition: 0, offset: 1, key: null };
    const bad = (o: object) => () => parseCaptureLine(JSON.stringify({ ...base, ...o }));
    expect(bad({ payload: "AA*A", payloadEncoding: "base64" })).toThrow(/payload: not valid base64/);
    expect(bad({ payload: "AAA", payloadEncoding: "base64" })).toThrow(/payload: not valid base64/);
    expect(bad({ payload: 12, payloadEncoding: "base64" })).toThrow(/payload: expected base64 text/);
    expect(bad({ payload: "x", payloadEncoding: "hex" })).toThrow(/payloadEncoding: expected "base64"/);
    expect(bad({ headers: ["h", "%%"], headersEncoding: "base64", payload: null })).toThrow(
      /headers\.h: not valid base64/,
    );
    expect(() => parseCaptureLine('{"schemaId":-1,"schema":"\\"int\\""}')).toThrow(/schemaId: expected/);
    expect(() => parseCaptureLine('{"schemaId":3,"schema":{"type":"int"}}')).toThrow(/schema: expected/);
  });
});
