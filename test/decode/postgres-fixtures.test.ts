// Every Postgres fixture record decodes to what its SQL (index.json) and TYPES.md imply.
import { describe, expect, it } from "vitest";
import { UNAVAILABLE, type ChangeEvent, type DecodedRecord } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { loadFixtures } from "./fixtures.js";

const fixtures = loadFixtures("postgres");

function decode(valueFile: string): DecodedRecord {
  const f = fixtures.find((x) => x.valueFile === valueFile);
  if (f === undefined) throw new Error(`no fixture ${valueFile}`);
  return decodeDebeziumJson(f.record, { topicPrefix: "dbserver1" });
}

function change(valueFile: string): ChangeEvent {
  const d = decode(valueFile);
  if (d.kind !== "change") throw new Error(`${valueFile}: expected a change, got ${d.kind}`);
  return d.event;
}

const customer = (id: bigint, first: string, last: string, email: string) => ({
  id,
  first_name: first,
  last_name: last,
  email,
});

describe("postgres fixtures", () => {
  it("covers every record listed in index.json", () => {
    expect(fixtures).toHaveLength(20);
    for (const f of fixtures) expect(() => decodeDebeziumJson(f.record), f.valueFile).not.toThrow();
  });

  it.each([
    ["01-snapshot-read-1001-first.value.json", customer(1001n, "Sally", "Thomas", "sally.thomas@acme.com")],
    ["02-snapshot-read-1002-true.value.json", customer(1002n, "George", "Bailey", "gbailey@foobar.com")],
    ["03-snapshot-read-1003-true.value.json", customer(1003n, "Edward", "Walker", "ed@walker.com")],
    ["04-snapshot-read-1004-last.value.json", customer(1004n, "Anne", "Kretchmar", "annek@noanswer.org")],
  ])("snapshot read %s", (file, row) => {
    const e = change(file);
    expect(e.op).toBe("r");
    expect(e.table).toBe("inventory.customers");
    expect(e.before).toBeNull();
    expect(e.after).toEqual(row);
    expect(e.key).toEqual({ id: row.id });
    expect(e.position.snapshot).toBe(true);
    expect(e.position.connector).toBe("postgresql");
  });

  it("insert: op c, after row, commit time from source.ts_ms, position from sequence/lsn", () => {
    const e = change("05-create.value.json");
    expect(e.op).toBe("c");
    expect(e.before).toBeNull();
    expect(e.after).toEqual(customer(1005n, "Jane", "Doe", "jane.doe@example.com"));
    expect(e.key).toEqual({ id: 1005n });
    expect(e.commitTimeMs).toBe(Number(e.source.ts_ms));
    expect(typeof e.processedTimeMs).toBe("number");
    // sequence is ["34079912","34080152"], lsn 34080152
    expect(e.position).toEqual({
      connector: "postgresql",
      commit: "34079912",
      change: "34080152",
      order: 0n,
      detail: "",
      snapshot: false,
    });
  });

  it("update under REPLICA IDENTITY DEFAULT has no before image", () => {
    const e = change("06-update-replica-identity-default.value.json");
    expect(e.op).toBe("u");
    expect(e.before).toBeNull();
    expect(e.after).toEqual(customer(1004n, "Anne Marie", "Kretchmar", "annek@noanswer.org"));
  });

  it("delete under REPLICA IDENTITY DEFAULT: key column plus NOT NULL fallbacks", () => {
    const e = change("07-delete-replica-identity-default.value.json");
    expect(e.op).toBe("d");
    expect(e.after).toBeNull();
    expect(e.before).toEqual(customer(1003n, "", "", ""));
  });

  it.each([
    ["08-delete-replica-identity-default-tombstone.value.json", 1003n],
    ["11-delete-replica-identity-full-tombstone.value.json", 1005n],
  ])("tombstone %s keeps its key", (file, id) => {
    expect(decode(file)).toEqual({ kind: "tombstone", key: { id } });
  });

  it("update under REPLICA IDENTITY FULL carries the previous row", () => {
    const e = change("09-update-replica-identity-full.value.json");
    expect(e.before).toEqual(customer(1004n, "Anne Marie", "Kretchmar", "annek@noanswer.org"));
    expect(e.after).toEqual(customer(1004n, "Anne Marie", "Kretchmar", "anne.marie@example.com"));
  });

  it("delete under REPLICA IDENTITY FULL carries the full row", () => {
    const e = change("10-delete-replica-identity-full.value.json");
    expect(e.before).toEqual(customer(1005n, "Jane", "Doe", "jane.doe@example.com"));
    expect(e.after).toBeNull();
  });

  it("truncate: op t, null key, no row images", () => {
    const e = change("12-truncate.value.json");
    expect(e.op).toBe("t");
    expect(e.key).toBeNull();
    expect(e.before).toBeNull();
    expect(e.after).toBeNull();
    expect(e.table).toBe("inventory.customers");
  });

  it("unchanged TOAST columns become UNAVAILABLE in every type-specific form", () => {
    const e = change("13-update-unchanged-toast-columns.value.json");
    expect(e.table).toBe("inventory.documents");
    expect(e.after).toEqual({
      id: 1n,
      title: "Quarterly report v2",
      body: UNAVAILABLE, // text: the string
      attributes: UNAVAILABLE, // jsonb: the string
      tags: UNAVAILABLE, // text[]: ["__debezium_unavailable_value"]
      content: UNAVAILABLE, // bytea: the placeholder's bytes
      scores: UNAVAILABLE, // integer[]: the placeholder bytes as ints
    });
    expect(e.after?.body).toBe(UNAVAILABLE);
  });

  // INSERT … VALUES ('a0eebc99-…','PAID',1234.56,0.0825,'$5.00','2024-03-15','2024-03-15 10:15:30.123456',
  // '2024-03-15 10:15:30.123','2024-03-15 11:15:30.123456+01','{"channel": "web", "gift": true}',
  // '{"source":"api","version":2}','{priority,b2b}','{1,2,3}',true)
  const common = {
    id: 1n,
    order_uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    status: "PAID",
    order_date: "2024-03-15",
    created_at: "2024-03-15T10:15:30.123456Z",
    created_at_ms: "2024-03-15T10:15:30.123Z",
    updated_at: "2024-03-15T10:15:30.123456Z", // TIMESTAMPTZ normalised to UTC
    attributes: { gift: true, channel: "web" },
    raw_payload: { source: "api", version: 2n },
    tags: ["priority", "b2b"],
    quantities: [1n, 2n, 3n],
    is_gift: true,
  };

  it("all types, decimal.handling.mode=precise: exact decimal strings", () => {
    const e = change("14-create-all-types-decimal-precise.value.json");
    expect(e.table).toBe("inventory.purchase_orders");
    expect(e.after).toEqual({ ...common, amount: "1234.56", tax_rate: "0.0825", discount: "5.00" });
    expect(e.key).toEqual({ id: 1n });
    expect(e.source.ts_ns).toBe(1710497311110402000n);
    expect(e.source.lsn).toBe(34084504n);
  });

  it("all types, decimal.handling.mode=double: numbers", () => {
    const e = change("15-create-all-types-decimal-double.value.json");
    expect(e.after).toEqual({ ...common, amount: 1234.56, tax_rate: 0.0825, discount: 5 });
  });

  it("all types, decimal.handling.mode=string: the strings as sent", () => {
    const e = change("16-create-all-types-decimal-string.value.json");
    expect(e.after).toEqual({ ...common, amount: "1234.56", tax_rate: "0.0825", discount: "5.00" });
  });

  it("transaction BEGIN / data event / END", () => {
    expect(decode("17-transaction-begin.value.json")).toEqual({
      kind: "transaction",
      status: "BEGIN",
      id: "777:34085120",
      eventCount: null,
      dataCollections: [],
      tsMs: 1710497520051,
    });
    const e = change("18-transaction-data-event.value.json");
    expect(e.after).toEqual(customer(1006n, "Mary", "Major", "mary.major@example.com"));
    expect(e.transaction).toEqual({ id: "777:34085296", totalOrder: 1n, dataCollectionOrder: 1n });
    expect(e.position.order).toBe(1n);
    expect(decode("19-transaction-end.value.json")).toEqual({
      kind: "transaction",
      status: "END",
      id: "777:34085464",
      eventCount: 1n,
      dataCollections: [{ dataCollection: "inventory.customers", eventCount: 1n }],
      tsMs: 1710497520051,
    });
  });

  it("heartbeat", () => {
    expect(decode("20-heartbeat.value.json")).toEqual({ kind: "heartbeat", tsMs: 1710498000007 });
  });
});
