// keyChange from Debezium's primary-key-change headers, in the forms header converters write them.
import { describe, expect, it } from "vitest";
import type { ChangeEvent, SourceRecord } from "../../src/decode/change-event.js";
import { keyChangeOf } from "../../src/worker/key-change.js";

const record = (headers: Record<string, string>): SourceRecord => ({
  topic: "dbserver1.inventory.customers",
  partition: 0,
  offset: "7",
  timestamp: null,
  headers,
  key: null,
  value: null,
});

const change = (op: ChangeEvent["op"], key: ChangeEvent["key"]): ChangeEvent => ({
  op,
  table: "inventory.customers",
  before: null,
  after: null,
  key,
  source: {},
  transaction: null,
  commitTimeMs: 0,
  processedTimeMs: null,
  position: { connector: "postgresql", commit: "1", change: "1", order: 0n, detail: "", snapshot: false },
});

const withSchema = JSON.stringify({
  schema: { type: "struct", fields: [{ type: "int32", optional: false, field: "id" }], optional: false },
  payload: { id: 2002 },
});

describe("keyChange", () => {
  it("delete half: __debezium.newkey as JsonConverter with schema", () => {
    expect(keyChangeOf(record({ "__debezium.newkey": withSchema }), change("d", { id: 1001n }))).toEqual({
      old: { id: 1001n },
      new: { id: 2002n },
    });
  });

  it("create half: __debezium.oldkey as schemaless JSON and as SimpleHeaderConverter text", () => {
    expect(
      keyChangeOf(record({ "__debezium.oldkey": '{"id":1001}' }), change("c", { id: 2002n })),
    ).toMatchObject({
      new: { id: 2002n },
    });
    expect(
      keyChangeOf(
        record({ "__debezium.oldkey": "Struct{id=1001,code=AB}" }),
        change("c", { id: 2002n, code: "CD" }),
      ),
    ).toEqual({ old: { id: 1001n, code: "AB" }, new: { id: 2002n, code: "CD" } });
  });

  it("null for every other change, and for a header that cannot be read", () => {
    expect(keyChangeOf(record({}), change("u", { id: 1n }))).toBeNull();
    expect(keyChangeOf(record({ "__debezium.newkey": withSchema }), change("c", { id: 1n }))).toBeNull();
    expect(keyChangeOf(record({ "__debezium.oldkey": "{not json" }), change("c", { id: 1n }))).toBeNull();
  });
});
