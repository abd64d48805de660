// The sink in embedded mode into SQLite: the example pipeline run on its captures, then `changecast sink` with the
// example sink file. The tables equal the model of the business state; a second run applies nothing; events that
// cannot be projected or applied are dead-lettered with their reason and counted, or stop the sink
// (errors.tolerance none) without committing past them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, connect, exampleProject, exampleViews, model, tables } from "./harness.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe("changecast sink (embedded → SQLite)", () => {
  it("projects the example's customers and orders exactly as the model says, and a second run applies nothing", async () => {
    const project = exampleProject("sqlite:.changecast/sink.sqlite");
    expect(cli(project, "run", "--config", project.config).code).toBe(0);
    const first = cli(project, "sink", "--config", project.sink);
    expect(first.err).toContain("embedded");
    expect(first.code).toBe(0);
    // every record the pipeline published on the sink's topics, once
    const views = exampleViews(project.dir);
    expect(first.out).toContain(`records read: ${views.length}`);
    expect(first.out).toContain("dead letters: 0");
    const expected = model(views);
    expect(first.out).toContain(`table customers: ${expected.customers.length} rows`);
    expect(first.out).toContain(`table orders: ${expected.orders.length} rows`);
    const knex = connect("sqlite:.changecast/sink.sqlite", project.dir);
    cleanups.push(() => knex.destroy());
    expect(await tables(knex)).toEqual(expected);

    const second = cli(project, "sink", "--config", project.sink);
    expect(second.code).toBe(0);
    expect(second.out).toContain("records read: 0");
    expect(await tables(knex)).toEqual(expected);
  });

  it("dead-letters events it cannot project or apply, with the reason, counts them and applies the rest", async () => {
    // a hand-made table with a constraint some rows break, and a column expression that fails for some events
    const project = exampleProject(
      "sqlite:.changecast/sink.sqlite",
      (text) =>
        text
          .replace("autoCreate: true", "autoCreate: false")
          .replace("      quantity: event.quantity\n", "      quantity: 10 / (int(event.quantity) - 1)\n") +
        "tables:\n  orders:\n    columns:\n      quantity: integer\n",
    );
    expect(cli(project, "run", "--config", project.config).code).toBe(0);
    const knex = connect("sqlite:.changecast/sink.sqlite", project.dir);
    cleanups.push(() => knex.destroy());
    await knex.raw(
      "create table customers (customer_id bigint primary key, email text check (length(email) < 22), first_name text, last_name text, registered_at text, updated_at text, changecast_position text, changecast_event_ids text, changecast_applied bigint)",
    );
    await knex.raw(
      "create table orders (order_id bigint primary key, customer_id bigint, product_id bigint, quantity integer, amount text, order_date text, status text, placed_at text, paid_at text, shipped_at text, delivered_at text, cancelled_at text, changecast_position text, changecast_event_ids text, changecast_applied bigint)",
    );
    const views = exampleViews(project.dir);
    const longEmails = views.filter(
      (v) => v.headers.ce_type?.endsWith("CustomerRegistered") && String(v.value.email).length >= 22,
    ).length;
    const singles = views.filter(
      (v) => v.headers.ce_type?.endsWith("OrderPlaced") && Number(v.value.quantity) === 1,
    ).length;
    expect(longEmails).toBeGreaterThan(0);
    expect(singles).toBeGreaterThan(0);

    const r = cli(project, "sink", "--config", project.sink);
    expect(r.err).not.toContain("changecast:");
    expect(r.code).toBe(0);
    const m = /dead letters: (\d+) \((.*)\)/.exec(r.out);
    expect(m).not.toBeNull();
    // every registration with a long e-mail is refused by the constraint; email changes to long ones too
    const applyErrors = Number(/SINK_APPLY: (\d+)/.exec(m![2]!)?.[1]);
    expect(applyErrors).toBeGreaterThanOrEqual(longEmails);
    expect(Number(/SINK_PROJECT: (\d+)/.exec(m![2]!)?.[1])).toBe(singles);
    const letters = readFileSync(
      join(project.dir, ".changecast", "out", "changecast-sink-inventory-projection.dlq.jsonl"),
      "utf8",
    )
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { headers: Record<string, string>; payloadBase64: string });
    expect(letters.length).toBe(Number(m![1]));
    expect(new Set(letters.map((l) => (l as { topic?: string }).topic))).toEqual(
      new Set(["changecast-sink-inventory-projection.dlq"]),
    );
    const apply = letters.find((l) => l.headers.changecast_error_code === "SINK_APPLY")!;
    expect(apply.headers["__connect.errors.exception.message"]).toMatch(/customers: .*CHECK constraint/i);
    expect(apply.headers["__connect.errors.topic"]).toBe("inventory.customer-events");
    expect(apply.headers.ce_type).toBe("io.example.customer.CustomerRegistered");
    const project_ = letters.find((l) => l.headers.changecast_error_code === "SINK_PROJECT")!;
    expect(project_.headers["__connect.errors.exception.message"]).toMatch(
      /columns\.quantity: int divide by zero/,
    );
    // the other rows are there
    const orders = (await knex("orders").count({ n: "*" }))[0] as { n: number };
    expect(Number(orders.n)).toBe(
      views.filter((v) => v.headers.ce_type?.endsWith("OrderPlaced")).length - singles,
    );
    // a restart neither re-applies nor re-dead-letters
    const again = cli(project, "sink", "--config", project.sink);
    expect(again.out).toContain("records read: 0");
    expect(
      readFileSync(
        join(project.dir, ".changecast", "out", "changecast-sink-inventory-projection.dlq.jsonl"),
        "utf8",
      )
        .trim()
        .split("\n").length,
    ).toBe(letters.length);
  });

  it("errors.tolerance none stops at the first bad event, exit 1, committing nothing past it", async () => {
    const project = exampleProject(
      "sqlite:.changecast/sink.sqlite",
      (text) =>
        text
          .replace("target:", "errors:\n  tolerance: none\ntarget:")
          .replace("      quantity: event.quantity\n", "      quantity: 10 / (int(event.quantity) - 1)\n") +
        "tables:\n  orders:\n    columns:\n      quantity: integer\n",
    );
    expect(cli(project, "run", "--config", project.config).code).toBe(0);
    const r = cli(project, "sink", "--config", project.sink);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /SinkStoppedError|errors\.tolerance none: stopped at inventory\.order-events\[0\]@\d+ \(SINK_PROJECT/,
    );
    const knex = connect("sqlite:.changecast/sink.sqlite", project.dir);
    cleanups.push(() => knex.destroy());
    const views = exampleViews(project.dir).filter((v) => v.topic === "inventory.order-events");
    const firstBad = views.findIndex(
      (v) => v.headers.ce_type?.endsWith("OrderPlaced") && Number(v.value.quantity) === 1,
    );
    const pos = (await knex("changecast_sink_positions")
      .where({ topic: "inventory.order-events" })
      .first()) as { next_offset: string } | undefined;
    expect(Number(pos?.next_offset ?? 0)).toBeLessThanOrEqual(firstBad);
  });
});
