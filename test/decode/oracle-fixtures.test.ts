// Every Oracle (LogMiner) fixture record decodes to what its SQL (index.json) and TYPES.md imply.
import { describe, expect, it } from "vitest";
import { UNAVAILABLE, type ChangeEvent, type DecodedRecord } from "../../src/decode/change-event.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { loadFixtures } from "./fixtures.js";

const fixtures = loadFixtures("oracle");

function decode(valueFile: string): DecodedRecord {
  const f = fixtures.find((x) => x.valueFile === valueFile);
  if (f === undefined) throw new Error(`no fixture ${valueFile}`);
  return decodeDebeziumJson(f.record);
}

function change(valueFile: string): ChangeEvent {
  const d = decode(valueFile);
  if (d.kind !== "change") throw new Error(`${valueFile}: expected a change, got ${d.kind}`);
  return d.event;
}

const customer = (id: bigint, first: string, last: string, email: string) => ({
  ID: id,
  FIRST_NAME: first,
  LAST_NAME: last,
  EMAIL: email,
});

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));

describe("oracle fixtures", () => {
  it("covers every record listed in index.json", () => {
    expect(fixtures).toHaveLength(17);
    for (const f of fixtures) expect(() => decodeDebeziumJson(f.record), f.valueFile).not.toThrow();
  });

  it.each([
    ["01-snapshot-read-1001-first.value.json", customer(1001n, "Sally", "Thomas", "sally.thomas@acme.com")],
    ["02-snapshot-read-1002-true.value.json", customer(1002n, "George", "Bailey", "gbailey@foobar.com")],
    ["03-snapshot-read-1003-true.value.json", customer(1003n, "Edward", "Walker", "ed@walker.com")],
    ["04-snapshot-read-1004-last.value.json", customer(1004n, "Anne", "Kretchmar", "annek@noanswer.org")],
  ])("snapshot read %s: upper-case names, snapshot SCN as position", (file, row) => {
    const e = change(file);
    expect(e.op).toBe("r");
    expect(e.table).toBe("DEBEZIUM.CUSTOMERS");
    expect(e.after).toEqual(row);
    expect(e.key).toEqual({ ID: row.ID });
    // AS OF SCN 2122180; no commit_scn, no rs_id during a snapshot
    expect(e.position).toEqual({
      connector: "oracle",
      commit: "2122180",
      change: "2122180",
      order: 0n,
      detail: "",
      snapshot: true,
    });
  });

  it("insert: commit_scn / scn / rs_id+ssn / txSeq make the position", () => {
    const e = change("05-create.value.json");
    expect(e.op).toBe("c");
    expect(e.after).toEqual(customer(1005n, "Jane", "Doe", "jane.doe@example.com"));
    expect(e.source.scn).toBe("2122185"); // Oracle SCNs stay strings
    expect(e.position).toEqual({
      connector: "oracle",
      commit: "2122188",
      change: "2122185",
      order: 1n,
      detail: "0x00000e.000004a1.0010/0",
      snapshot: false,
    });
    expect(e.commitTimeMs).toBe(1710497111000);
  });

  it("update with supplemental logging carries the full before image", () => {
    const e = change("06-update.value.json");
    expect(e.op).toBe("u");
    expect(e.before).toEqual(customer(1004n, "Anne", "Kretchmar", "annek@noanswer.org"));
    expect(e.after).toEqual(customer(1004n, "Anne", "Kretchmar", "anne@example.com"));
  });

  it("delete and its tombstone", () => {
    const e = change("07-delete.value.json");
    expect(e.op).toBe("d");
    expect(e.before).toEqual(customer(1005n, "Jane", "Doe", "jane.doe@example.com"));
    expect(e.after).toBeNull();
    expect(decode("08-delete-tombstone.value.json")).toEqual({ kind: "tombstone", key: { ID: 1005n } });
  });

  it("truncate: null key", () => {
    const e = change("09-truncate.value.json");
    expect(e.op).toBe("t");
    expect(e.key).toBeNull();
    expect(e.table).toBe("DEBEZIUM.CUSTOMERS");
  });

  it("untouched LOB columns are UNAVAILABLE in before and after (CLOB string, BLOB bytes)", () => {
    const e = change("10-update-unchanged-lob-columns.value.json");
    expect(e.before).toEqual({ ID: 1n, TITLE: "Quarterly report", BODY: UNAVAILABLE, CONTENT: UNAVAILABLE });
    expect(e.after).toEqual({
      ID: 1n,
      TITLE: "Quarterly report v2",
      BODY: UNAVAILABLE,
      CONTENT: UNAVAILABLE,
    });
  });

  // VALUES (1,'PO-2024-0001',N'Zoë Müller','PAID',3,42,1234.56,0.0825,12345678901234567890,2.5d,
  // TO_DATE('2024-03-15 10:15:30'),TIMESTAMP '2024-03-15 10:15:30.123456',
  // TIMESTAMP '2024-03-15 11:15:30.123456 +01:00','Leave at the front desk.',HEXTORAW('255044462D312E37'),
  // HEXTORAW('00112233445566778899AABBCCDDEEFF'))
  const common = {
    ORDER_NO: "PO-2024-0001",
    CUSTOMER_NAME: "Zoë Müller",
    STATUS: "PAID      ", // CHAR(10) is blank-padded
    WEIGHT: 2.5,
    ORDER_DATE: "2024-03-15T10:15:30.000Z", // Oracle DATE → Timestamp (ms)
    CREATED_AT: "2024-03-15T10:15:30.123456Z",
    UPDATED_AT: "2024-03-15T11:15:30.123456+01:00", // offset kept
    NOTES: "Leave at the front desk.",
    ATTACHMENT: bytes("255044462D312E37"),
    CHECKSUM: bytes("00112233445566778899AABBCCDDEEFF"),
  };

  it("all types, precise: ints as bigint, NUMBER(38) beyond 2^64 exact", () => {
    const e = change("11-create-all-types-decimal-precise.value.json");
    expect(e.table).toBe("DEBEZIUM.PURCHASE_ORDERS");
    expect(e.after).toEqual({
      ...common,
      ID: 1n,
      LINE_COUNT: 3n,
      QUANTITY: 42n,
      AMOUNT: "1234.56",
      TAX_RATE: "0.0825",
      BIG_COUNTER: "12345678901234567890",
    });
    expect(e.key).toEqual({ ID: 1n });
  });

  it("all types, double: every NUMBER a double, key included", () => {
    const e = change("12-create-all-types-decimal-double.value.json");
    expect(e.after).toEqual({
      ...common,
      ID: 1,
      LINE_COUNT: 3,
      QUANTITY: 42,
      AMOUNT: 1234.56,
      TAX_RATE: 0.0825,
      BIG_COUNTER: Number("12345678901234567890"), // NUMBER(38) as a double: precision loss is inherent
    });
    expect(e.key).toEqual({ ID: 1 });
  });

  it("all types, string: every NUMBER a string, key included", () => {
    const e = change("13-create-all-types-decimal-string.value.json");
    expect(e.after).toEqual({
      ...common,
      ID: "1",
      LINE_COUNT: "3",
      QUANTITY: "42",
      AMOUNT: "1234.56",
      TAX_RATE: "0.0825",
      BIG_COUNTER: "12345678901234567890",
    });
    expect(e.key).toEqual({ ID: "1" });
  });

  it("transaction BEGIN / data event / END share the LogMiner XID", () => {
    expect(decode("14-transaction-begin.value.json")).toEqual({
      kind: "transaction",
      status: "BEGIN",
      id: "0800030066050000",
      eventCount: null,
      dataCollections: [],
      tsMs: 1710497471000,
    });
    const e = change("15-transaction-data-event.value.json");
    expect(e.transaction).toEqual({ id: "0800030066050000", totalOrder: 1n, dataCollectionOrder: 1n });
    expect(e.after).toEqual(customer(1006n, "Mary", "Major", "mary.major@example.com"));
    expect(decode("16-transaction-end.value.json")).toEqual({
      kind: "transaction",
      status: "END",
      id: "0800030066050000",
      eventCount: 1n,
      dataCollections: [{ dataCollection: "ORCLPDB1.DEBEZIUM.CUSTOMERS", eventCount: 1n }],
      tsMs: 1710497471000,
    });
  });

  it("heartbeat", () => {
    expect(decode("17-heartbeat.value.json")).toEqual({ kind: "heartbeat", tsMs: 1710498000004 });
  });
});
