// A sink through a migration (docs/migration.md, docs/sink.md): CustomerRegistered moves to major 2 (customerId
// becomes a string, its own topic) while the sink projects it and CustomerEmailChanged (which stays on the shared
// old topic). The sink reads part of the dual-published stream on major 1, is switched with `changecast sink
// switch` (the migrator's switch-over computed from the positions in its database), and goes on with major 2:
// every registration and every e-mail change applied exactly once, none missing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendChanges, migrate, migrationProject, runWorker } from "../migrate/harness.js";
import { cli, connect } from "./harness.js";

const SINK = `sink: crm
pipeline: changecast.yaml
target:
  url: sqlite:.changecast/crm.sqlite
batch:
  maxEvents: 7
projections:
  - type: io.example.customer.CustomerRegistered
    table: customers
    key:
      customer_id: int(event.customerId)
    columns:
      email: event.email
      first_name: event.firstName
  - type: io.example.customer.CustomerEmailChanged
    table: customers
    action: update
    key:
      customer_id: event.customerId
    columns:
      email: event.email
tables:
  customers:
    columns:
      customer_id: bigint
`;

describe("changecast sink through a migration", () => {
  it("switches majors mid-stream without applying a fact twice or skipping one", async () => {
    const project = migrationProject();
    const sink = join(project.dir, "changecast.sink.yaml");
    writeFileSync(sink, SINK);
    const runSink = () => {
      const r = cli(project, "sink", "--config", sink);
      expect(r.code, r.err).toBe(0);
      return r.err + r.out;
    };

    appendChanges(project, 1, 30);
    expect(runWorker(project).code).toBe(0);
    expect(runSink()).toContain("table customers: 30 rows");

    expect((await migrate(project, "start")).code).toBe(0);
    appendChanges(project, 31, 15);
    expect(runWorker(project).code).toBe(0);
    // the sink reads these on major 1 (both majors are published now)
    expect(runSink()).toContain("table customers: 45 rows");
    appendChanges(project, 46, 15);
    expect(runWorker(project).code).toBe(0);
    expect((await migrate(project, "backfill")).code).toBe(0);

    const before = await migrate(project, "status");
    expect(before.out).toMatch(/changecast-sink-crm\s+\d+\s+\d+\s+-\s+-\s+no/);
    const switched = cli(project, "sink", "switch", "--config", sink, "--event", "CustomerRegistered");
    expect(switched.code, switched.out + switched.err).toBe(0);
    expect(switched.out).toMatch(/group changecast-sink-crm switched/);
    expect(switched.out).toContain("sink crm: reads inventory.customer-events.v2 from 0@");

    appendChanges(project, 61, 30);
    expect(runWorker(project).code).toBe(0);
    const after = runSink();
    expect(after).toContain("inventory.customer-events.v2");
    // major 1's registrations on the old topic and the overlap facts on the new one: dropped by the filter;
    // nothing needed the position rule
    expect(after).toMatch(
      /skipped: 0 already applied \(position\), 0 by when, 0 without projection, [1-9]\d* by the switch filter/,
    );
    expect(after).toContain("table customers: 90 rows");
    const status = await migrate(project, "status");
    expect(status.out).toMatch(/changecast-sink-crm\s+\d+\s+0\s+\d+\s+0\s+yes/);

    const knex = connect("sqlite:.changecast/crm.sqlite", project.dir);
    try {
      const rows = (await knex("customers").orderBy("customer_id")) as {
        customer_id: number;
        email: string;
        first_name: string;
        changecast_applied: number;
      }[];
      expect(rows.map((r) => r.customer_id)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
      for (const r of rows) {
        // changes(): after every third insert, the e-mail of the customer inserted before it changes
        const updated = (r.customer_id + 1) % 3 === 0 && r.customer_id + 1 <= 90;
        expect(r.first_name).toBe(`First${r.customer_id}`);
        expect(r.email).toBe(updated ? `c${r.customer_id}.new@example.com` : `c${r.customer_id}@example.com`);
        // one registration (from either major, never both) plus the e-mail change
        expect(r.changecast_applied, `customer ${r.customer_id}`).toBe(updated ? 2 : 1);
      }
    } finally {
      await knex.destroy();
    }
  }, 300_000);
});
