// A breaking change of an aggregate event (an `aggregate:` file's OrderPlaced, the order with its lines from one
// transaction): `majors:` declared under it, `migrate start` dual-publishes it, `migrate backfill` re-derives its
// history from the transactions — the same facts (ce_ids) with the same lines on the new topic — and cutover
// finds it ready. The example project in embedded mode, as a user drives it.
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CommandIO } from "../../src/cli/io.js";
import { migrateCommand, type MigrateAction } from "../../src/migrate/commands.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const ENV = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };
const V1 = "inventory.order-events";
const V2 = "inventory.order-events.v2";

interface Line {
  topic: string;
  headers: Record<string, string>;
  value: Record<string, unknown>;
}

/** The example project (Postgres flavour) with major 2 of OrderPlaced: no productId/quantity, a `channel`. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-aggregate-major-"));
  for (const path of ["changecast.yaml", "transforms", "schemas", "captures/postgres"])
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  const v1 = JSON.parse(readFileSync(join(dir, "schemas/order/OrderPlaced.avsc"), "utf8")) as {
    fields: { name: string }[];
  };
  const v2 = {
    ...v1,
    fields: [
      ...v1.fields.filter((f) => f.name !== "productId" && f.name !== "quantity"),
      { name: "channel", type: "string" },
    ],
  };
  mkdirSync(join(dir, "schemas/order/v2"));
  writeFileSync(join(dir, "schemas/order/v2/OrderPlaced.avsc"), JSON.stringify(v2));
  appendFileSync(
    join(dir, "transforms/postgres/order-placed.yaml"),
    [
      "    majors:",
      "      2:",
      "        schema: schemas/order/v2/OrderPlaced.avsc",
      "        fields:",
      "          orderId: root.after.id",
      "          customerId: root.after.purchaser",
      "          amount: root.after.amount",
      "          orderDate: root.after.order_date",
      "          status: root.after.status",
      "          placedAt: root.after.updated_at",
      "          channel: '\"web\"'",
      "          lines: >-",
      '            lines.map(l, {"lineNo": l.after.line_no, "productId": l.after.product_id,',
      '            "quantity": l.after.quantity, "unitPrice": l.after.unit_price})',
      "",
    ].join("\n"),
  );
  return dir;
}

async function migrate(dir: string, action: MigrateAction): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: CommandIO = { out: (l) => out.push(l), err: (l) => out.push(l) };
  const code = await migrateCommand(
    action,
    { config: join(dir, "changecast.yaml"), event: "OrderPlaced" },
    io,
  );
  return { code, out: out.join("\n") };
}

function placed(dir: string, topic: string): Map<string, Record<string, unknown>> {
  const text = readFileSync(join(dir, ".changecast", "out", `${topic}.jsonl`), "utf8");
  const out = new Map<string, Record<string, unknown>>();
  for (const l of text.split("\n").filter(Boolean)) {
    const line = JSON.parse(l) as Line;
    if (line.headers.ce_type === "io.example.order.OrderPlaced") out.set(line.headers.ce_id!, line.value);
  }
  return out;
}

describe("migrate an aggregate event (embedded)", () => {
  it("majors: on an aggregate's event: check, start, backfill from the transactions, cutover ready", async () => {
    const dir = project();
    const check = spawnSync(process.execPath, [...CLI, "check", "--config", join(dir, "changecast.yaml")], {
      encoding: "utf8",
      env: ENV,
    });
    expect(check.status, check.stderr).toBe(0);
    const run = spawnSync(process.execPath, [...CLI, "run", "--config", join(dir, "changecast.yaml")], {
      encoding: "utf8",
      env: ENV,
    });
    expect(run.status, run.stderr).toBe(0);
    const v1 = placed(dir, V1);
    // orders placed with their lines in one transaction
    expect([...v1.values()].some((v) => (v.lines as unknown[]).length > 0)).toBe(true);

    const plan = await migrate(dir, "plan");
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toContain(V2);
    expect((await migrate(dir, "start")).code).toBe(0);
    const backfill = await migrate(dir, "backfill");
    expect(backfill.code, backfill.out).toBe(0);

    const v2 = placed(dir, V2);
    expect([...v2.keys()].sort()).toEqual([...v1.keys()].sort());
    for (const [id, old] of v1) {
      const now = v2.get(id)!;
      expect(now.lines, id).toEqual(old.lines);
      expect(now.orderId, id).toEqual(old.orderId);
      expect(now.channel, id).toBe("web");
      expect(now).not.toHaveProperty("productId");
    }
    const cutover = await migrate(dir, "cutover");
    expect(cutover.out).toContain(`all ${v1.size} io.example.order.OrderPlaced facts on ${V1} are on ${V2}`);
  }, 120_000);
});
