// Migrating an event that shares its topic with other event types (one topic per aggregate, as the docs
// recommend), in embedded mode: only the migrated event's facts count for the switch and the cutover, and a
// switched group keeps consuming the old topic for the other types — accounted by ce_id over every type.
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSwitchFilter } from "../../src/migrate/filter.js";
import {
  appendChanges,
  exited,
  factsOn,
  migrate,
  migrationProject,
  runWorker,
  SharedTopicConsumer,
  spawnWorker,
  topicRecords,
  typedAccounting,
  V1,
  V2,
  withStore,
  EVENT,
  ROOT,
  type Project,
} from "./harness.js";

const REGISTERED = "io.example.customer.CustomerRegistered";
const EMAIL = "io.example.customer.CustomerEmailChanged";

async function useFilter(p: Project, consumer: SharedTopicConsumer): Promise<void> {
  consumer.filter = await withStore(p, (s) => loadSwitchFilter(s.knex, "inventory", EVENT, consumer.group));
}

function ids(records: { headers: Record<string, string> }[], type?: string): string[] {
  return records.filter((r) => !type || r.headers.ce_type === type).map((r) => r.headers.ce_id ?? "");
}

/** The declaration of major 2 exactly as docs/migration.md adds it to transforms/postgres/customers.yaml. */
const MAJORS = `    majors:
      2:
        schema: schemas/customer/v2/CustomerRegistered.avsc
        fields:
          customerId: string(after.id)
          email: after.email
          firstName: after.first_name
          lastName: after.last_name
          registeredAt: source.ts_ms
`;

/**
 * The example pipeline as shipped (changecast.yaml, transforms/postgres, schemas, captures/postgres) in a temp
 * dir, with major 2 of CustomerRegistered declared; the captures cut to their first `share` of lines — `rest()`
 * appends the remainder, as if the database had gone on changing.
 */
function exampleProject(share: number): { project: Project; rest(): void } {
  const dir = mkdtempSync(join(tmpdir(), "changecast-example-"));
  for (const path of ["changecast.yaml", "transforms/postgres", "schemas", "captures/postgres"])
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  const transform = join(dir, "transforms", "postgres", "customers.yaml");
  const yaml = readFileSync(transform, "utf8");
  const anchor = "      registeredAt: source.ts_ms\n";
  writeFileSync(transform, yaml.replace(anchor, anchor + MAJORS));
  const captures = join(dir, "captures", "postgres");
  const full = new Map<string, string[]>();
  for (const f of readdirSync(captures)) {
    const lines = readFileSync(join(captures, f), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    full.set(f, lines);
    writeFileSync(join(captures, f), lines.slice(0, Math.floor(lines.length * share)).join("\n") + "\n");
  }
  return {
    project: {
      dir,
      config: join(dir, "changecast.yaml"),
      source: join(captures, "dbserver1.inventory.customers.jsonl"),
    },
    rest: () => {
      for (const [f, lines] of full) writeFileSync(join(captures, f), lines.join("\n") + "\n");
    },
  };
}

describe("migrating an event on a shared topic (embedded)", () => {
  it("the example pipeline: CustomerRegistered on its shared topic, groups switching mid-stream and from the start", async () => {
    const { project: p, rest } = exampleProject(0.6);
    expect(runWorker(p).code).toBe(0);
    const billing = new SharedTopicConsumer(p, "billing");
    const crm = new SharedTopicConsumer(p, "crm");
    for (const g of ["billing", "crm"])
      expect((await migrate(p, "register-consumer", { group: g })).code).toBe(0);
    await billing.poll(V1, 200);
    const plan = await migrate(p, "plan");
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toContain(
      `${V1} is shared with AddressAdded, AddressChanged, AddressRemoved, CustomerEmailChanged, CustomerNameChanged, CustomerDeleted`,
    );
    expect((await migrate(p, "start")).code).toBe(0);
    // the database goes on changing: the rest of the captures, published on both majors
    rest();
    expect(runWorker(p).code).toBe(0);
    const v1 = await topicRecords(p, V1);
    expect(v1.length).toBe(560);
    const live = ids(await topicRecords(p, V2));
    expect(live.length).toBeGreaterThan(0);
    await billing.poll(V1, v1.length - 200 - 20);

    const backfill = await migrate(p, "backfill");
    expect(backfill.code, backfill.err).toBe(0);
    expect(backfill.out).toContain(`${143 - live.length} facts published, ${live.length} already present`);
    for (const g of ["billing", "crm"]) {
      const r = await migrate(p, "switch", { group: g });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain(`${V1} is shared: `);
    }
    await useFilter(p, billing);
    await useFilter(p, crm);
    await billing.drain([V1, V2]);
    await crm.drain([V1, V2]);

    const expected = await factsOn(p, [V1, V2]);
    expect(expected.size).toBe(560);
    for (const consumer of [billing, crm]) {
      const result = typedAccounting(consumer.processed, expected);
      expect(result.duplicates, consumer.group).toEqual([]);
      expect(result.missing, consumer.group).toEqual([]);
      expect(result.extra, consumer.group).toEqual([]);
      expect(Object.keys(result.byType).length).toBe(7);
      expect(result.byType[REGISTERED]).toBe(143);
    }
    const ready = await migrate(p, "cutover");
    expect(ready.code, ready.out).toBe(0);
    expect(ready.out).toContain(`history: all 143 ${REGISTERED} facts on ${V1} are on ${V2}`);
    expect((await migrate(p, "finish")).code).toBe(0);
  }, 60_000);

  it("a group mid-stream and a group that read nothing switch; each fact of every type once", async () => {
    const p = migrationProject();
    // 300 inserts + 100 e-mail changes on inventory.customer-events
    appendChanges(p, 1, 300);
    expect(runWorker(p).code).toBe(0);
    const billing = new SharedTopicConsumer(p, "billing");
    const crm = new SharedTopicConsumer(p, "crm");
    for (const g of ["billing", "crm"])
      expect((await migrate(p, "register-consumer", { group: g })).code).toBe(0);
    await billing.poll(V1, 250);

    const plan = await migrate(p, "plan");
    expect(plan.out).toContain(`${V1} is shared with CustomerEmailChanged`);
    expect((await migrate(p, "start")).code).toBe(0);
    appendChanges(p, 301, 300);
    expect(runWorker(p).code).toBe(0);
    expect((await topicRecords(p, V1)).length).toBe(800);
    expect(ids(await topicRecords(p, V2))).toEqual(ids(await topicRecords(p, V1), REGISTERED).slice(300));
    // billing reads on into the dual-published part
    await billing.poll(V1, 300);

    // the 100 e-mail changes before the start are not missing facts of CustomerRegistered: 300 are
    const blocked = await migrate(p, "switch", { group: "crm" });
    expect(blocked.code).toBe(1);
    expect(blocked.out).toContain(`case: blocked — 300 ${REGISTERED} facts the group has not processed`);
    expect(blocked.out).toContain(`${V1} is shared: 200 records of other event types stay there`);
    const notReady = await migrate(p, "cutover");
    expect(notReady.code).toBe(1);
    expect(notReady.out).toContain(`history: 300 of 600 ${REGISTERED} facts on ${V1} are not on ${V2}`);

    const backfill = await migrate(p, "backfill");
    expect(backfill.code, backfill.err).toBe(0);
    expect(backfill.out).toContain("300 facts published, 300 already present");

    const b = await migrate(p, "switch", { group: "billing" });
    expect(b.code, b.out).toBe(0);
    expect(b.out).toContain(`and keep its ${V1} consumer for the other event types`);
    const c = await migrate(p, "switch", { group: "crm" });
    expect(c.code, c.out).toBe(0);
    expect(c.out).toContain("case: exact");
    expect(c.out).toContain(`processed on the old topic: 0 ${REGISTERED} facts; pending: 600`);
    await useFilter(p, billing);
    await useFilter(p, crm);

    // more changes while both groups consume the old topic (other types) and the new one (CustomerRegistered)
    appendChanges(p, 601, 600);
    const worker = spawnWorker(p, "--batch-size", "20");
    while (worker.exitCode === null) {
      await billing.poll(V1, 30);
      await billing.poll(V2, 30);
      await crm.poll(V2, 50);
      await crm.poll(V1, 50);
      // the state store's driver is synchronous: without a timer turn the child's exit is never noticed
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await exited(worker)).toBe(0);
    await billing.drain([V1, V2]);
    await crm.drain([V1, V2]);

    const expected = await factsOn(p, [V1, V2]);
    expect(expected.size).toBe(1600);
    for (const consumer of [billing, crm]) {
      const result = typedAccounting(consumer.processed, expected);
      expect(result.duplicates, consumer.group).toEqual([]);
      expect(result.missing, consumer.group).toEqual([]);
      expect(result.extra, consumer.group).toEqual([]);
      expect(result.byType).toEqual({ [REGISTERED]: 1200, [EMAIL]: 400 });
      expect(consumer.filter.remaining).toBe(0);
      // after the switch CustomerRegistered came from the new topic only, the other types from the old one
      expect(consumer.processed.filter((f) => f.topic === V2).every((f) => f.type === REGISTERED)).toBe(true);
    }
    expect(crm.processed.filter((f) => f.type === REGISTERED && f.topic === V1)).toEqual([]);

    const ready = await migrate(p, "cutover");
    expect(ready.code, ready.out).toBe(0);
    expect(ready.out).toContain(`history: all 1200 ${REGISTERED} facts on ${V1} are on ${V2}`);
    expect((await migrate(p, "finish")).code).toBe(0);
  }, 90_000);

  it("backfill refuses while `run` writes the same state; a backfill --from does not make cutover ready", async () => {
    const p = migrationProject();
    appendChanges(p, 1, 1000);
    expect(runWorker(p).code).toBe(0);
    expect((await migrate(p, "start")).code).toBe(0);
    appendChanges(p, 1001, 3000);
    const worker = spawnWorker(p, "--batch-size", "10");
    const v2File = join(p.dir, ".changecast", "out", `${V2}.jsonl`);
    // once the worker writes the new topic it holds the state's lock
    for (;;) {
      let text = "";
      try {
        text = readFileSync(v2File, "utf8");
      } catch {
        // not created yet
      }
      if (text.length > 0 || worker.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = await migrate(p, "backfill");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/state .* is in use by `run` \(pid \d+/);
    expect(await exited(worker)).toBe(0);
    const live = ids(await topicRecords(p, V2));
    expect(live.length).toBe(3000);
    expect(new Set(live).size).toBe(3000);

    // a backfill from the 401st customer leaves 400 of the 1000 history facts out: recorded, not ready
    const v1 = (await topicRecords(p, V1)).filter((r) => r.headers.ce_type === REGISTERED);
    const from = v1[400]?.headers.changecast_position ?? "";
    const partial = await migrate(p, "backfill", { from });
    expect(partial.code, partial.err).toBe(0);
    expect(partial.out).toContain("600 facts published");
    const notReady = await migrate(p, "cutover");
    expect(notReady.code).toBe(1);
    expect(notReady.out).toContain(`history: 400 of 4000 ${REGISTERED} facts on ${V1} are not on ${V2}`);
    expect(notReady.out).toContain(`from position ${from}`);
    expect((await migrate(p, "status")).out).toContain(`from position ${from}`);

    const full = await migrate(p, "backfill");
    expect(full.out).toContain("400 facts published, 3600 already present");
    const v2 = ids(await topicRecords(p, V2));
    expect(v2.length).toBe(4000);
    expect(new Set(v2)).toEqual(new Set(ids(v1)));
    expect((await migrate(p, "cutover")).code).toBe(0);
  }, 90_000);

  it("after finish, the collapsed declaration (major 2 as the event's own mapping) works with every command", async () => {
    const p = migrationProject();
    appendChanges(p, 1, 60);
    runWorker(p);
    const crm = new SharedTopicConsumer(p, "crm");
    await migrate(p, "register-consumer", { group: "crm" });
    await migrate(p, "start");
    expect((await migrate(p, "backfill")).code).toBe(0);
    expect((await migrate(p, "switch", { group: "crm" })).code).toBe(0);
    expect((await migrate(p, "cutover")).code).toBe(0);
    expect((await migrate(p, "finish")).code).toBe(0);
    await useFilter(p, crm);

    // the docs' collapsed declaration: major 2 is the event's own mapping, on its own topic
    const file = join(p.dir, "transforms", "customers.yaml");
    const yaml = readFileSync(file, "utf8");
    const collapsed = yaml.replace(
      / {2}- name: CustomerRegistered\n[\s\S]*?(?= {2}- name: CustomerEmailChanged)/,
      [
        "  - name: CustomerRegistered",
        "    major: 2",
        "    schema: schemas/customer/v2/CustomerRegistered.avsc",
        `    topic: ${V2}`,
        '    when: op == "c" || op == "r"',
        "    key: after.id",
        "    fields:",
        "      customerId: string(after.id)",
        "      email: after.email",
        "      firstName: after.first_name",
        "      lastName: after.last_name",
        "      registeredAt: source.ts_ms",
        "",
      ].join("\n"),
    );
    expect(collapsed).not.toBe(yaml);
    writeFileSync(file, collapsed);

    const status = await migrate(p, "status");
    expect(status.code, status.err).toBe(0);
    expect(status.out).toContain("CustomerRegistered major 1 → 2: finished");
    expect(status.out).toContain(`old ${V1}: end 80 · new ${V2}: end 60`);
    const plan = await migrate(p, "plan");
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toContain("major 1 no longer declared");
    expect(plan.out).toContain("state: finished");
    for (const action of ["start", "cutover", "finish"] as const) {
      const r = await migrate(p, action);
      expect(r.code, `${action}: ${r.err}`).toBe(0);
      expect(r.out).toMatch(/already finished/);
    }
    expect((await migrate(p, "switch", { group: "crm" })).out).toContain("already switched");
    expect((await migrate(p, "register-consumer", { group: "audit" })).code).toBe(0);
    const backfill = await migrate(p, "backfill");
    expect(backfill.code).toBe(1);
    expect(backfill.err).toContain("is finished; nothing to backfill");
    const abort = await migrate(p, "abort");
    expect(abort.code).toBe(1);
    expect(abort.err).toContain("is finished; it cannot be aborted");

    // the worker publishes major 2 only; the group keeps reading the other types on the old topic
    appendChanges(p, 61, 30);
    const run = runWorker(p);
    expect(run.code, run.err).toBe(0);
    expect((await topicRecords(p, V2)).length).toBe(90);
    expect((await topicRecords(p, V1)).length).toBe(90);
    await crm.drain([V1, V2]);
    const result = typedAccounting(crm.processed, await factsOn(p, [V1, V2]));
    expect(result).toMatchObject({ duplicates: [], missing: [], extra: [] });
    expect(result.byType).toEqual({ [REGISTERED]: 90, [EMAIL]: 30 });
  }, 60_000);
});
