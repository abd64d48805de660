// kcat -C -J lines and bare Debezium value lines → SourceRecord.
import { describe, expect, it } from "vitest";
import { DecodeError } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { loadFixtures } from "./fixtures.js";

const pg = loadFixtures("postgres");
const create = pg.find((f) => f.valueFile === "05-create.value.json");
if (create === undefined) throw new Error("fixture missing");

describe("parseKcatLine", () => {
  it("reads a kcat -J record: coordinates, flat header array, UTF-8 key and payload", () => {
    const line = JSON.stringify({
      topic: "dbserver1.inventory.customers",
      partition: 2,
      offset: 17,
      tstype: "create",
      ts: 1710497111405,
      broker: 1,
      headers: ["ce_id", "abc", "trace", "Zoë"],
      key: '{"id":1005}',
      payload: create.valueText,
    });
    const r = parseKcatLine(line);
    expect(r.topic).toBe("dbserver1.inventory.customers");
    expect(r.partition).toBe(2);
    expect(r.offset).toBe("17");
    expect(r.timestamp).toBe(1710497111405);
    expect(r.headers).toEqual({ ce_id: "abc", trace: "Zoë" });
    expect(r.key?.toString("utf8")).toBe('{"id":1005}');
    expect(r.value?.toString("utf8")).toBe(create.valueText);
    // the record decodes like the fixture itself
    const decoded = decodeDebeziumJson(r);
    expect(decoded.kind === "change" && decoded.event.after?.email).toBe("jane.doe@example.com");
    expect(decoded.kind === "change" && decoded.event.key).toEqual({ id: 1005n });
  });

  it("keeps offsets beyond 2^53 exact", () => {
    const r = parseKcatLine(
      '{"topic":"t","partition":0,"offset":9007199254740993,"key":null,"payload":null}',
    );
    expect(r.offset).toBe("9007199254740993");
  });

  it("null key/payload (tombstone, truncate), object headers, no timestamp", () => {
    const r = parseKcatLine(
      '{"topic":"t","partition":0,"offset":1,"tstype":"none","ts":-1,"headers":{"a":"1"},"key":null,"payload":null}',
    );
    expect(r).toEqual({
      topic: "t",
      partition: 0,
      offset: "1",
      timestamp: null,
      headers: { a: "1" },
      key: null,
      value: null,
    });
  });

  it("uses the fallback topic when the kcat line has none", () => {
    expect(parseKcatLine('{"partition":0,"offset":3,"payload":"x"}', "fallback").topic).toBe("fallback");
  });

  it("a bare Debezium value line becomes a record on the given topic", () => {
    const line = (create.valueText as string).replace(/\n\s*/g, "");
    const r = parseKcatLine(line, "dbserver1.inventory.customers");
    expect(r.topic).toBe("dbserver1.inventory.customers");
    expect(r.key).toBeNull();
    expect(r.value?.toString("utf8")).toBe(line);
  });

  it("derives <name>.<schema>.<table> for a value line without a topic", () => {
    const line = (create.valueText as string).replace(/\n\s*/g, "");
    expect(parseKcatLine(line).topic).toBe("dbserver1.inventory.customers");
    const bare =
      '{"before":null,"after":{"ID":1},"source":{"name":"server1","schema":"DEBEZIUM","table":"T"},"op":"c"}';
    expect(parseKcatLine(bare).topic).toBe("server1.DEBEZIUM.T");
  });

  it("a value line without source and without topic is an error", () => {
    const hb = pg.find((f) => f.valueFile === "20-heartbeat.value.json")?.valueText as string;
    expect(() => parseKcatLine(hb)).toThrow(DecodeError);
    expect(parseKcatLine(hb, "__debezium-heartbeat.dbserver1").topic).toBe("__debezium-heartbeat.dbserver1");
  });

  it.each([
    ["not JSON", "kcat: error", /not JSON/],
    ["an array", "[1]", /expected a JSON object/],
    ["neither kcat nor Debezium", '{"hello":"world"}', /neither a kcat -J record nor a Debezium value/],
    ["odd header array", '{"topic":"t","offset":1,"headers":["a"]}', /headers/],
    ["bad offset", '{"topic":"t","offset":"x"}', /offset: expected an integer offset/],
  ])("rejects %s", (_what, line, message) => {
    expect(() => parseKcatLine(line)).toThrow(DecodeError);
    expect(() => parseKcatLine(line)).toThrow(message);
  });
});
