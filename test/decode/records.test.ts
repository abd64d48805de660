// Record-level behaviour: schemaless variants, heartbeat / transaction recognition, bad-input catalogue.
import { describe, expect, it } from "vitest";
import {
  DecodeError,
  UNAVAILABLE,
  type ChangeEvent,
  type DecodedRecord,
} from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { loadFixtures, sourceRecord, type FixtureRecord } from "./fixtures.js";

const pg = loadFixtures("postgres");
const ora = loadFixtures("oracle");

function fixture(set: FixtureRecord[], valueFile: string): FixtureRecord {
  const f = set.find((x) => x.valueFile === valueFile);
  if (f === undefined) throw new Error(`no fixture ${valueFile}`);
  return f;
}

/** The payload text of a `{"schema":…,"payload":…}` file, cut out textually so no number is re-parsed. */
function stripSchema(text: string): string {
  const start = text.indexOf('"payload":') + '"payload":'.length;
  return text.slice(start, text.lastIndexOf("}")).trim();
}

function schemaless(set: FixtureRecord[], valueFile: string, topic?: string): DecodedRecord {
  const f = fixture(set, valueFile);
  const key = f.keyText === null ? null : stripSchema(f.keyText);
  const value = f.valueText === null ? null : stripSchema(f.valueText);
  return decodeDebeziumJson(sourceRecord(topic ?? f.record.topic, key, value));
}

function asChange(d: DecodedRecord): ChangeEvent {
  if (d.kind !== "change") throw new Error(`expected a change, got ${d.kind}`);
  return d.event;
}

describe("schemaless JSON (schemas.enable=false)", () => {
  it("keeps values as JSON gives them: integers bigint, no logical decoding", () => {
    const e = asChange(schemaless(pg, "14-create-all-types-decimal-precise.value.json"));
    expect(e.op).toBe("c");
    expect(e.table).toBe("inventory.purchase_orders");
    expect(e.key).toEqual({ id: 1n });
    expect(e.after).toMatchObject({
      id: 1n,
      amount: "AeJA", // base64 Decimal, undecodable without its scale
      tax_rate: { scale: 4n, value: "Azk=" },
      order_date: 19797n, // days, no schema says Date
      created_at: 1710497730123456n,
      attributes: '{"gift": true, "channel": "web"}',
      quantities: [1n, 2n, 3n],
      is_gift: true,
    });
    expect(e.source.ts_ns).toBe(1710497311110402000n);
    expect(e.position.commit).toBe("34084288");
    expect(e.position.change).toBe("34084504");
  });

  it("doubles stay numbers (Oracle double mode: 1.0 is a double literal)", () => {
    const e = asChange(schemaless(ora, "12-create-all-types-decimal-double.value.json"));
    expect(e.after?.ID).toBe(1);
    expect(e.after?.BIG_COUNTER).toBe(1.2345678901234567e19);
    expect(e.key).toEqual({ ID: 1 });
  });

  it("recognises the placeholder forms", () => {
    const e = asChange(schemaless(pg, "13-update-unchanged-toast-columns.value.json"));
    expect(e.after).toEqual({
      id: 1n,
      title: "Quarterly report v2",
      body: UNAVAILABLE,
      attributes: UNAVAILABLE,
      tags: UNAVAILABLE,
      content: UNAVAILABLE,
      scores: UNAVAILABLE,
    });
    const o = asChange(schemaless(ora, "10-update-unchanged-lob-columns.value.json"));
    expect(o.before).toEqual({ ID: 1n, TITLE: "Quarterly report", BODY: UNAVAILABLE, CONTENT: UNAVAILABLE });
  });

  it("oracle position from commit_scn / scn / rs_id / txSeq", () => {
    const e = asChange(schemaless(ora, "05-create.value.json"));
    expect(e.position).toEqual({
      connector: "oracle",
      commit: "2122188",
      change: "2122185",
      order: 1n,
      detail: "0x00000e.000004a1.0010/0",
      snapshot: false,
    });
  });

  it("truncate, tombstone, transaction markers and heartbeat", () => {
    expect(asChange(schemaless(pg, "12-truncate.value.json")).key).toBeNull();
    expect(schemaless(pg, "08-delete-replica-identity-default-tombstone.value.json")).toEqual({
      kind: "tombstone",
      key: { id: 1003n },
    });
    expect(schemaless(pg, "19-transaction-end.value.json")).toEqual({
      kind: "transaction",
      status: "END",
      id: "777:34085464",
      eventCount: 1n,
      dataCollections: [{ dataCollection: "inventory.customers", eventCount: 1n }],
      tsMs: 1710497520051,
    });
    expect(schemaless(ora, "14-transaction-begin.value.json")).toMatchObject({
      kind: "transaction",
      status: "BEGIN",
    });
    expect(schemaless(pg, "20-heartbeat.value.json")).toEqual({ kind: "heartbeat", tsMs: 1710498000007 });
  });
});

describe("heartbeat and transaction records on renamed topics", () => {
  it("are recognised by schema name", () => {
    const hb = fixture(pg, "20-heartbeat.value.json");
    expect(decodeDebeziumJson({ ...hb.record, topic: "my-heartbeats" })).toEqual({
      kind: "heartbeat",
      tsMs: 1710498000007,
    });
    const tx = fixture(pg, "17-transaction-begin.value.json");
    expect(decodeDebeziumJson({ ...tx.record, topic: "tx-markers" })).toMatchObject({
      kind: "transaction",
      status: "BEGIN",
      id: "777:34085120",
    });
  });

  it("are recognised by shape without a schema", () => {
    expect(schemaless(pg, "20-heartbeat.value.json", "renamed")).toEqual({
      kind: "heartbeat",
      tsMs: 1710498000007,
    });
    expect(schemaless(pg, "17-transaction-begin.value.json", "renamed")).toMatchObject({
      kind: "transaction",
    });
  });

  it("a record on the transaction topic must be a marker", () => {
    const record = sourceRecord("dbserver1.transaction", null, '{"status":"MAYBE","id":"1"}');
    expect(() => decodeDebeziumJson(record, { topicPrefix: "dbserver1" })).toThrow(
      'status: expected "BEGIN" or "END"',
    );
  });
});

describe("JsonConverter layout variants", () => {
  it("accepts payload before schema, and compact text (same result as the pretty fixture)", () => {
    const f = fixture(pg, "14-create-all-types-decimal-precise.value.json");
    const text = f.valueText as string;
    const schema = text.slice(text.indexOf('"schema":') + 9, text.indexOf(',\n  "payload":'));
    const swapped = `{"payload":${stripSchema(text)},"schema":${schema}}`;
    const expected = decodeDebeziumJson(f.record);
    expect(decodeDebeziumJson({ ...f.record, value: Buffer.from(swapped) })).toEqual(expected);
    // a second decode of the same schema text hits the compiled-schema cache and must agree
    expect(decodeDebeziumJson(f.record)).toEqual(expected);
  });

  it("a column named payload does not confuse the schema/payload split", () => {
    const text =
      '{"schema":{"type":"struct","fields":[{"type":"struct","optional":true,"field":"after","fields":[' +
      '{"type":"string","optional":true,"field":"payload","default":",\\"payload\\":"}]},' +
      '{"type":"struct","field":"source","fields":[{"type":"string","field":"connector"},' +
      '{"type":"int64","field":"ts_ms"},{"type":"string","field":"table"}]},{"type":"string","field":"op"}]},' +
      '"payload":{"after":{"payload":"x"},"source":{"connector":"x","ts_ms":1,"table":"t"},"op":"c"}}';
    for (let i = 0; i < 2; i++) {
      const e = asChange(decodeDebeziumJson(sourceRecord("t", null, text)));
      expect(e.after).toEqual({ payload: "x" });
      expect(e.table).toBe("t");
    }
  });
});

describe("bad input → DecodeError saying what and where", () => {
  const source = '{"connector":"postgresql","name":"x","ts_ms":1,"schema":"s","table":"t","lsn":5}';
  it.each([
    ["not JSON", "this is not json", /not JSON/],
    ["a JSON array", "[1,2,3]", /not a Debezium record: expected a JSON object, got array/],
    ["a JSON string", '"hello"', /expected a JSON object, got string/],
    ["an envelope without op", `{"before":null,"after":{"id":1},"source":${source}}`, /no "op" field/],
    ["an unknown op", `{"after":{"id":1},"source":${source},"op":"x"}`, /op: unknown operation "x"/],
    [
      "a numeric op",
      `{"after":{"id":1},"source":${source},"op":1}`,
      /op: expected an operation string, got number/,
    ],
    ["a missing source", '{"after":{"id":1},"op":"c"}', /source: expected struct object, got nothing/],
    [
      "a source without table",
      '{"after":{"id":1},"op":"c","source":{"connector":"postgresql","ts_ms":1}}',
      /source\.table: expected the captured table name/,
    ],
    [
      "an after that is no row",
      `{"after":[1],"source":${source},"op":"c"}`,
      /after: expected struct object, got array/,
    ],
    [
      "a truncated schema'd record",
      '{"schema":{"type":"struct","fields":[]},"payload":{"op":"c"',
      /not JSON/,
    ],
    [
      "a schema that is no schema",
      '{"schema":{"fields":[]},"payload":{}}',
      /schema\.type: expected a Connect schema type name/,
    ],
  ])("%s", (_what, value, message) => {
    const record = sourceRecord("dbserver1.s.t", null, value);
    expect(() => decodeDebeziumJson(record)).toThrow(DecodeError);
    expect(() => decodeDebeziumJson(record)).toThrow(message);
  });

  it("a value contradicting its declared type names the field", () => {
    const f = fixture(pg, "14-create-all-types-decimal-precise.value.json");
    const broken = (f.valueText as string).replace('"amount": "AeJA"', '"amount": 1234.56');
    expect(broken).not.toBe(f.valueText);
    expect(() => decodeDebeziumJson({ ...f.record, value: Buffer.from(broken) })).toThrow(
      "after.amount: expected base64 Decimal bytes, got number",
    );
  });

  it("a key that is not JSON", () => {
    const record = sourceRecord("dbserver1.s.t", "{id:", `{"after":{},"source":${source},"op":"c"}`);
    expect(() => decodeDebeziumJson(record)).toThrow(/not JSON/);
  });
});
