// The native-parse fast path of the JsonConverter decoder must give exactly what the lossless parse gives.
import { describe, expect, it } from "vitest";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import {
  exactInteger,
  NEEDS_LOSSLESS,
  parseJsonNative,
  withExactIntegers,
} from "../../src/decode/json-text.js";

const SCHEMA = {
  type: "struct",
  name: "t.Envelope",
  fields: [
    {
      type: "struct",
      optional: true,
      field: "after",
      fields: [
        { type: "int64", optional: true, field: "id" },
        { type: "string", optional: true, field: "note" },
        { type: "array", optional: true, field: "ids", items: { type: "int64" } },
      ],
    },
    {
      type: "struct",
      field: "source",
      fields: [
        { type: "string", field: "connector" },
        { type: "string", field: "table" },
        { type: "int64", field: "ts_ms" },
        { type: "int64", optional: true, field: "ts_ns" },
      ],
    },
    { type: "string", field: "op" },
    { type: "int64", optional: true, field: "ts_ns" },
  ],
};

function record(payload: string): SourceRecord {
  const value = `{"schema":${JSON.stringify(SCHEMA)},"payload":${payload}}`;
  return {
    topic: "t",
    partition: 0,
    offset: "0",
    timestamp: null,
    headers: {},
    key: null,
    value: Buffer.from(value),
  };
}

function decodedAfterAndTs(payload: string): unknown {
  const decoded = decodeDebeziumJson(record(payload));
  if (decoded.kind !== "change") throw new Error(decoded.kind);
  return { after: decoded.event.after, sourceTsNs: decoded.event.source.ts_ns };
}

const SOURCE = (tsNs: string): string =>
  `{"connector":"postgresql","table":"x","ts_ms":1710493256762,"ts_ns":${tsNs}}`;

describe("exact int64 values on the native-parse path", () => {
  it("keeps 19-digit values exact, in structs, arrays and the envelope", () => {
    const payload =
      `{"after":{"id":9223372036854775807,"note":"n","ids":[-9223372036854775808,9007199254740993]},` +
      `"source":${SOURCE("1710493256762476001")},"op":"c","ts_ns":1710493256982770001}`;
    expect(decodedAfterAndTs(payload)).toEqual({
      after: { id: 9223372036854775807n, note: "n", ids: [-9223372036854775808n, 9007199254740993n] },
      sourceTsNs: 1710493256762476001n,
    });
  });

  it("is not fooled by look-alike literals in strings, other members or escaped names", () => {
    // "…000" and "…001" round to the same double: the value must come from its own literal
    const payload =
      `{"after":{"id":1710493256762476000,"note":"\\"id\\":1710493256762476001","ids":null},` +
      `"source":${SOURCE("1710493256762476001")},"op":"c","ts\\u005fns":1710493256762476002}`;
    expect(decodedAfterAndTs(payload)).toEqual({
      after: { id: 1710493256762476000n, note: '"id":1710493256762476001', ids: null },
      sourceTsNs: 1710493256762476001n,
    });
  });

  it("gives up (lossless parse) rather than guess between two texts of one double", () => {
    const text = '{"a":1710493256762476000,"b":1710493256762476001}';
    const parsed = parseJsonNative(text) as { a: number; b: number };
    expect(withExactIntegers(text, () => exactInteger(parsed.a))).toBe(NEEDS_LOSSLESS);
    expect(withExactIntegers(text, () => exactInteger(parsed.a, "a"))).toBe(1710493256762476000n);
    expect(withExactIntegers(text, () => exactInteger(parsed.b, "b"))).toBe(1710493256762476001n);
    // an exponent literal is a number for the lossless parser too
    const exp = '{"a":1.5e300}';
    expect(withExactIntegers(exp, () => exactInteger(1.5e300, "a"))).toBe(1.5e300);
    // outside withExactIntegers the value came from the lossless parser: as is
    expect(exactInteger(1e20)).toBe(1e20);
  });
});
