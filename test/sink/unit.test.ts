// The sink's pure parts: the position rule, the Avro → SQL type mapping and value conversion, and the sink file
// (its checks with lines, the example's projections evaluated on an event).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import { describe, expect, it } from "vitest";
import { forSchemaOptions } from "../../src/encode/logical-types.js";
import { advance, applies, sortablePosition } from "../../src/sink/position.js";
import { keyText, Projector, type SinkRecord } from "../../src/sink/project.js";
import { readSinkConfig } from "../../src/sink/sink-config.js";
import { columnTypeOf, parseSqlType, toSqlValue } from "../../src/sink/sql-types.js";
import { isDataError } from "../../src/sink/sink.js";
import { EventSchema } from "../../src/encode/event-schema.js";
import { toWireFormat } from "../../src/avro/wire.js";
import type { SchemaRegistry } from "../../src/schemas/registry.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("position rule", () => {
  it("orders positions like comparePositions: commit, then change, then order, numerically", () => {
    const a = sortablePosition("postgresql:900:1000:0");
    const b = sortablePosition("postgresql:1000:1000:0");
    const c = sortablePosition("postgresql:1000:1001:0");
    const d = sortablePosition("postgresql:1000:1001:2");
    expect([d, b, c, a].sort()).toEqual([a, b, c, d]);
    // Oracle's detail (rs_id/ssn) does not take part, like in comparePositions
    expect(sortablePosition("oracle:5:6:7:0x01.2/3")).toBe(sortablePosition("oracle:5:6:7"));
    expect(() => sortablePosition("garbage")).toThrow(/not a changecast_position/);
  });

  it("skips older events and the same event again; applies the other events of the same change", () => {
    const p1 = sortablePosition("postgresql:10:10:0");
    const p2 = sortablePosition("postgresql:20:20:0");
    expect(applies(null, p1, "a")).toBe(true);
    let mark = advance(null, p2, "b");
    expect(applies(mark, p1, "a")).toBe(false); // older
    expect(applies(mark, p2, "b")).toBe(false); // the same fact again (a re-delivery, the other major)
    expect(applies(mark, p2, "c")).toBe(true); // another event of the same change
    mark = advance(mark, p2, "c");
    expect(mark.ids).toEqual(["b", "c"]);
    expect(applies(mark, p2, "b")).toBe(false);
    mark = advance(mark, sortablePosition("postgresql:30:30:0"), "d");
    expect(mark.ids).toEqual(["d"]);
  });

  it("treats a number and its text as one key", () => {
    expect(keyText([1005n])).toBe(keyText(["1005"]));
    expect(keyText([1005])).toBe(keyText(["1005"]));
    expect(keyText(["a", 1])).not.toBe(keyText(["a", 2]));
  });
});

describe("Avro → SQL types", () => {
  const field = (type: unknown) => avro.Type.forSchema(type as avro.Schema, forSchemaOptions());
  it("maps primitives, logical types, nullability and unions", () => {
    expect(columnTypeOf(field("long"))).toEqual({ type: "bigint", nullable: false });
    expect(columnTypeOf(field("int")).type).toBe("integer");
    expect(columnTypeOf(field("string")).type).toBe("text");
    expect(columnTypeOf(field("boolean")).type).toBe("boolean");
    expect(columnTypeOf(field("double")).type).toBe("double");
    expect(columnTypeOf(field("float")).type).toBe("real");
    expect(columnTypeOf(field("bytes")).type).toBe("binary");
    expect(columnTypeOf(field({ type: "bytes", logicalType: "decimal", precision: 12, scale: 2 })).type).toBe(
      "decimal(12,2)",
    );
    expect(columnTypeOf(field({ type: "long", logicalType: "timestamp-millis" })).type).toBe("timestamptz");
    expect(columnTypeOf(field({ type: "long", logicalType: "timestamp-micros" })).type).toBe("timestamptz");
    expect(columnTypeOf(field({ type: "long", logicalType: "local-timestamp-micros" })).type).toBe(
      "timestamp",
    );
    expect(columnTypeOf(field({ type: "int", logicalType: "date" })).type).toBe("date");
    expect(columnTypeOf(field({ type: "long", logicalType: "time-micros" })).type).toBe("time");
    expect(columnTypeOf(field({ type: "string", logicalType: "uuid" })).type).toBe("uuid");
    expect(columnTypeOf(field({ type: "enum", name: "S", symbols: ["A"] })).type).toBe("text");
    expect(columnTypeOf(field(["null", "string"]))).toEqual({ type: "text", nullable: true });
    expect(
      columnTypeOf(field(["null", { type: "bytes", logicalType: "decimal", precision: 5, scale: 1 }])),
    ).toEqual({ type: "decimal(5,1)", nullable: true });
    expect(columnTypeOf(field(["null", "string", "long"]))).toEqual({ type: "json", nullable: true });
    expect(columnTypeOf(field({ type: "array", items: "string" })).type).toBe("json");
    expect(columnTypeOf(field({ type: "record", name: "R", fields: [] })).type).toBe("json");
  });

  it("reads declared types and converts values without changing them", () => {
    expect(parseSqlType("Decimal(10, 3)")).toBe("decimal(10,3)");
    expect(parseSqlType("decimal(2,3)")).toBeNull();
    expect(parseSqlType("varchar")).toBeNull();
    expect(toSqlValue(2n ** 63n - 1n, "bigint", "postgres")).toBe("9223372036854775807");
    expect(toSqlValue(2n ** 63n - 1n, "bigint", "sqlite")).toBe("9223372036854775807");
    expect(toSqlValue(5n, "bigint", "sqlite")).toBe(5);
    expect(toSqlValue("12.50", "decimal(12,2)", "sqlite")).toBe("12.50");
    expect(toSqlValue(true, "boolean", "sqlite")).toBe(1);
    expect(toSqlValue("AAE=", "binary", "postgres")).toEqual(Buffer.from([0, 1]));
    expect(toSqlValue({ a: 1n }, "json", "postgres")).toBe('{"a":1}');
    expect(toSqlValue(null, "text", "postgres")).toBeNull();
  });

  it("tells a row's fault from the connection's", () => {
    expect(isDataError({ code: "23505" })).toBe(true); // unique violation
    expect(isDataError({ code: "22P02" })).toBe(true); // invalid text representation
    expect(isDataError({ code: "SQLITE_CONSTRAINT_CHECK" })).toBe(true);
    expect(isDataError({ code: "ECONNRESET" })).toBe(false);
    expect(isDataError({ code: "42P01" })).toBe(false); // undefined table: the configuration's fault
    expect(isDataError(new Error("x"))).toBe(false);
  });
});

describe("sink file", () => {
  it("reads the example sink file: projections, inferred column types, default topics and group", () => {
    const { config, problems } = readSinkConfig(join(ROOT, "changecast.sink.yaml"), {
      env: { SINK_DATABASE_URL: "sqlite::memory:" },
    });
    expect(problems).toEqual([]);
    expect(config!.group).toBe("changecast-sink-inventory-projection");
    expect(config!.errors.deadLetterTopic).toBe("changecast-sink-inventory-projection.dlq");
    expect(config!.topics).toEqual(["inventory.customer-events", "inventory.order-events"]);
    const orders = config!.tables.get("orders")!;
    expect(orders.keyColumns).toEqual(["order_id"]);
    expect(Object.fromEntries([...orders.columns].map(([c, t]) => [c, t.type]))).toMatchObject({
      order_id: "bigint",
      amount: "decimal(12,2)",
      order_date: "date",
      status: "text",
      placed_at: "timestamptz",
      quantity: "integer",
    });
    expect(orders.columns.get("order_id")!.nullable).toBe(false);
    expect(orders.columns.get("amount")!.nullable).toBe(true);
  });

  it("reports each problem with its line", () => {
    const text = readFileSync(join(ROOT, "changecast.sink.yaml"), "utf8")
      .replace("action: delete", "action: erase")
      .replace("first_name: event.firstName", "first_name: event.firstName +")
      .replace("type: io.example.order.OrderShipped", "type: io.example.order.OrderLost")
      .replace("autoCreate: true", "autoCreate: true\n  colour: blue");
    const { problems } = readSinkConfig(join(ROOT, "changecast.sink.yaml"), { text, env: {} });
    const lines = text.split("\n");
    const lineOf = (s: string) => lines.findIndex((l) => l.includes(s)) + 1;
    const messages = problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${lineOf("colour")}: unknown key "colour" in target`)),
        expect.stringMatching(
          new RegExp(
            `^${lineOf("erase")}: projections\\[\\]\\.action: "erase" is not one of upsert, update, delete`,
          ),
        ),
        expect.stringMatching(
          new RegExp(`^${lineOf("event.firstName +")}: columns.first_name: expression does not compile`),
        ),
        expect.stringMatching(
          new RegExp(
            `^${lineOf("OrderLost")}: projection type "io.example.order.OrderLost" is no event type`,
          ),
        ),
      ]),
    );
  });

  it("projects a wire-format event: when, key and columns over event, headers, topic", async () => {
    const text = readFileSync(join(ROOT, "changecast.sink.yaml"), "utf8").replace(
      "    action: update\n    key:\n      customer_id: event.customerId\n    columns:\n      email: event.email",
      '    action: update\n    when: headers.ce_source.endsWith("customers") && event.email.contains("@")\n    key:\n      customer_id: event.customerId\n    columns:\n      email: event.email',
    );
    const { config, problems } = readSinkConfig(join(ROOT, "changecast.sink.yaml"), {
      text,
      env: { SINK_DATABASE_URL: "sqlite::memory:" },
    });
    expect(problems).toEqual([]);
    const schema = config!.transforms.declarations.find((d) => d.name === "CustomerEmailChanged")!.schema;
    const registry = { schemaById: () => Promise.resolve(schema.canonical) } as unknown as SchemaRegistry;
    const projector = new Projector(config!, registry, "postgres");
    const value = schema.coerce({
      customerId: 7,
      previousEmail: "a@x",
      email: "b@x",
      changedAt: 1_710_000_000_000,
    });
    const record = (email: string): SinkRecord => ({
      topic: "inventory.customer-events",
      partition: 0,
      offset: 3n,
      key: "7",
      headers: {
        ce_id: "id-1",
        ce_type: "io.example.customer.CustomerEmailChanged",
        ce_source: "changecast/inventory/inventory.customers",
        changecast_position: "postgresql:100:120:1",
      },
      value: toWireFormat(9, EventSchema.parse(schema.canonical).encode(schema.coerce({ ...value, email }))),
    });
    const out = await projector.project(record("b@x"));
    expect(out.kind).toBe("ops");
    if (out.kind !== "ops") return;
    expect(out.ops).toHaveLength(1);
    expect(out.ops[0]).toMatchObject({
      action: "update",
      keyValues: ["7"],
      columns: { email: "b@x", updated_at: "2024-03-09T16:00:00.000Z" },
      position: sortablePosition("postgresql:100:120:1"),
      ceId: "id-1",
    });
    expect(await projector.project(record("nobody"))).toEqual({ kind: "ops", ops: [], filtered: 1 });
    const bad = await projector.project({ ...record("b@x"), value: Buffer.from("not avro") });
    expect(bad.kind).toBe("dead");
    if (bad.kind === "dead") expect(bad.error.name).toBe("SinkDecodeError");
    expect(await projector.project({ ...record("b@x"), headers: { ce_type: "io.example.X" } })).toEqual({
      kind: "none",
    });
  });
});

describe("applying row operations (SQLite in memory)", () => {
  it("parks an update that comes before its row, applies it when an upsert creates the row, in position order", async () => {
    const { default: knexFactory } = await import("knex");
    const { applyOps } = await import("../../src/sink/apply.js");
    const { createTable } = await import("../../src/sink/target.js");
    const knex = knexFactory({
      client: "better-sqlite3",
      connection: { filename: ":memory:" },
      useNullAsDefault: true,
    });
    try {
      const { config } = readSinkConfig(join(ROOT, "changecast.sink.yaml"), {
        env: { SINK_DATABASE_URL: "sqlite::memory:" },
      });
      const table = config!.tables.get("customers")!;
      const target = {
        knex,
        dialect: "sqlite" as const,
        location: ":memory:",
        close: () => Promise.resolve(),
      };
      await createTable(target, table);
      await knex.schema.createTable("changecast_sink_tombstones", (t) => {
        t.string("sink");
        t.string("table_name");
        t.text("row_key");
        t.string("changecast_position");
        t.text("changecast_event_ids");
        t.bigInteger("changecast_applied");
        t.primary(["sink", "table_name", "row_key"]);
      });
      await knex.schema.createTable("changecast_sink_pending", (t) => {
        t.string("sink");
        t.string("table_name");
        t.text("row_key");
        t.string("ce_id");
        t.string("changecast_position");
        t.text("columns");
        t.primary(["sink", "table_name", "row_key", "ce_id"]);
      });
      const op = (action: "upsert" | "update" | "delete", lsn: number, columns: Record<string, unknown>) => ({
        table,
        action,
        keyValues: [7],
        keyText: keyText([7]),
        columns,
        position: sortablePosition(`postgresql:${lsn}:${lsn}:0`),
        ceId: `id-${lsn}`,
        record: {} as SinkRecord,
      });
      // the e-mail change (lsn 200) arrives before the registration (lsn 100): parked, in another transaction
      let counts = await knex.transaction((trx) =>
        applyOps(trx, "s", [op("update", 200, { email: "new@x" })]),
      );
      expect(counts.parked).toBe(1);
      expect(await knex("customers")).toEqual([]);
      counts = await knex.transaction((trx) =>
        applyOps(trx, "s", [
          op("upsert", 100, { email: "old@x", first_name: "Ann" }),
          op("update", 300, { first_name: "Anna" }),
        ]),
      );
      expect(counts.applied.map((a) => a.action)).toEqual(["upsert", "update", "update"]);
      const row = (await knex("customers").first()) as Record<string, unknown>;
      expect(row).toMatchObject({
        customer_id: 7,
        email: "new@x",
        first_name: "Anna",
        changecast_applied: 3,
      });
      expect(await knex("changecast_sink_pending")).toEqual([]);
      // an update older than the row's creation is stale: skipped, never parked
      counts = await knex.transaction((trx) => applyOps(trx, "s", [op("update", 50, { email: "stale@x" })]));
      expect(counts.skippedOlder).toBe(1);
      // deleted: the tombstone keeps the mark; the registration delivered again does not bring the row back
      await knex.transaction((trx) => applyOps(trx, "s", [op("delete", 400, {})]));
      counts = await knex.transaction((trx) => applyOps(trx, "s", [op("upsert", 100, { email: "old@x" })]));
      expect(counts.skippedOlder).toBe(1);
      expect(await knex("customers")).toEqual([]);
    } finally {
      await knex.destroy();
    }
  });
});
