import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "./postgres.js";

describe("embedded postgres", () => {
  let server: TestPostgres | undefined;

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("accepts connections, creates tables and has logical WAL", async () => {
    if (!server) throw new Error("postgres not started");
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query("CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL)");
      await client.query("INSERT INTO customers VALUES ($1, $2)", [1, "Ada"]);
      const rows = await client.query<{ name: string }>("SELECT name FROM customers WHERE id = 1");
      expect(rows.rows[0]?.name).toBe("Ada");
      const wal = await client.query<{ wal_level: string }>("SHOW wal_level");
      expect(wal.rows[0]?.wal_level).toBe("logical");
      // A logical replication slot can be created (what Debezium's pgoutput connector needs).
      await client.query("SELECT pg_create_logical_replication_slot('changecast_test', 'pgoutput')");
      await client.query("SELECT pg_drop_replication_slot('changecast_test')");
    } finally {
      await client.end();
    }
  });

  it("stop() shuts the server down and is idempotent", async () => {
    const other = await startPostgres();
    await other.stop();
    await other.stop();
    const client = new pg.Client({ connectionString: other.url, connectionTimeoutMillis: 2000 });
    await expect(client.connect()).rejects.toThrow();
  });
});
