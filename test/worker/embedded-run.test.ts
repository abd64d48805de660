// `changecast run` in embedded mode on the example: counts, idempotent re-run, restart after kill -9.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
// one process (no tsx wrapper process), so that SIGKILL really kills the worker
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];

function copyExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-run-"));
  for (const p of ["changecast.yaml", "transforms", "schemas", "captures"])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

function run(dir: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, "run", "--config", join(dir, "changecast.yaml"), ...args], {
    encoding: "utf8",
    env: { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface OutLine {
  topic: string;
  key: string;
  headers: Record<string, string>;
  value: Record<string, unknown>;
  wire: { value: string };
}

/** The text of each output file (one per topic), in file name order. */
function outputTexts(dir: string): string[] {
  const out = join(dir, ".changecast", "out");
  if (!existsSync(out)) return [];
  return readdirSync(out)
    .sort()
    .map((f) => readFileSync(join(out, f), "utf8"));
}

function outputs(dir: string): OutLine[] {
  return outputTexts(dir).flatMap((text) =>
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as OutLine),
  );
}

/** Complete output lines so far (a line being written has no newline yet). */
function publishedLines(dir: string): number {
  let n = 0;
  for (const text of outputTexts(dir))
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// Expected per type, counted independently by the example's author from the generated scenario (docs/example.md).
const EXPECTED: Record<string, number> = {
  CustomerRegistered: 143,
  CustomerEmailChanged: 63,
  CustomerNameChanged: 21,
  CustomerDeleted: 14,
  AddressAdded: 228,
  AddressChanged: 40,
  AddressRemoved: 51,
  ProductAdded: 24,
  ProductPriceChanged: 80,
  ProductDetailsChanged: 43,
  OrderPlaced: 412,
  OrderPaid: 322,
  OrderShipped: 170,
  OrderDelivered: 120,
  OrderCancelled: 65,
};

describe("changecast run (embedded)", () => {
  it("publishes the example's events once; a second run publishes nothing new", () => {
    const dir = copyExample();
    const first = run(dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /reconciliation: 5579 records in = \d+ mapped \(1796 events out\) \+ \d+ filtered \+ 0 dead letters ✓/,
    );
    const lines = outputs(dir);
    const byType = new Map<string, number>();
    for (const l of lines) {
      const type = l.headers.ce_type!.split(".").pop()!;
      byType.set(type, (byType.get(type) ?? 0) + 1);
    }
    expect(Object.fromEntries(byType)).toEqual(EXPECTED);
    expect(new Set(lines.map((l) => l.headers.ce_id)).size).toBe(lines.length);
    // wire bytes: magic byte 0 and a 4-byte schema id
    for (const l of lines.slice(0, 20)) expect(Buffer.from(l.wire.value, "base64")[0]).toBe(0);

    const second = run(dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/reconciliation: 0 records in/);
    expect(outputs(dir)).toHaveLength(lines.length);
  });

  it("per aggregate key, events keep source commit order", () => {
    const dir = copyExample();
    expect(run(dir).code).toBe(0);
    const byKey = new Map<string, string[]>();
    for (const l of outputs(dir).filter((o) => o.topic === "inventory.order-events")) {
      byKey.set(l.key, [...(byKey.get(l.key) ?? []), l.headers.ce_time!]);
    }
    for (const times of byKey.values()) expect([...times].sort()).toEqual(times);
  });

  it("killed with SIGKILL at random moments, it resumes with nothing lost and nothing twice", async () => {
    const reference = copyExample();
    expect(run(reference).code).toBe(0);
    const expected = outputs(reference)
      .map((l) => l.headers.ce_id)
      .sort();

    const dir = copyExample();
    let kills = 0;
    // Kill on progress, not on a clock: a fast machine finishes the whole run before any fixed delay.
    // Each attempt picks a random output count ahead of what is already published and kills once it is reached.
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = publishedLines(dir);
      const remaining = expected.length - before;
      if (remaining < 100) break;
      const target = before + 20 + Math.floor(Math.random() * Math.floor(remaining * 0.6));
      const child = spawn(
        process.execPath,
        [...CLI, "run", "--config", join(dir, "changecast.yaml"), "--batch-size", "20"],
        {
          stdio: "ignore",
          env: { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" },
        },
      );
      let exitCode: number | null | undefined;
      const exited = new Promise<void>((done) =>
        child.on("exit", (code) => {
          exitCode = code;
          done();
        }),
      );
      while (exitCode === undefined && publishedLines(dir) < target) await sleep(2);
      if (exitCode === undefined) child.kill("SIGKILL");
      await exited;
      if (exitCode === null) kills++;
      else break;
    }
    const final = run(dir);
    expect(final.code, final.stderr).toBe(0);
    const got = outputs(dir).map((l) => l.headers.ce_id);
    console.log(`[embedded kill loop] ${kills} kills, ${got.length} events, ${new Set(got).size} distinct`);
    expect(kills).toBeGreaterThan(0);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual(expected);
  }, 180_000);

  it("with errors.tolerance=none it stops at a bad record and commits nothing past it", () => {
    const dir = copyExample();
    const config = readFileSync(join(dir, "changecast.yaml"), "utf8").replace(
      /tolerance: all/,
      "tolerance: none",
    );
    expect(config).toContain("tolerance: none");
    cpSync(join(dir, "changecast.yaml"), join(dir, "orig.yaml"));
    // a capture line whose payload is not JSON, as the 3rd record of the customers topic
    const file = join(dir, "captures", "postgres", "dbserver1.inventory.customers.jsonl");
    const lines = readFileSync(file, "utf8").split("\n");
    const bad = JSON.parse(lines[2]!) as { payload: string };
    bad.payload = "{broken";
    lines[2] = JSON.stringify(bad);
    writeFileSync(file, lines.join("\n"));
    writeFileSync(join(dir, "changecast.yaml"), config);
    const r = run(dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/stopped at dbserver1\.inventory\.customers\[0\]@2 \(errors\.tolerance=none\)/);
    // fixing the record and running again picks up exactly at the bad record
    lines[2] = JSON.stringify({
      ...bad,
      payload: JSON.parse(
        readFileSync(join(ROOT, "captures", "postgres", "dbserver1.inventory.customers.jsonl"), "utf8").split(
          "\n",
        )[2]!,
      ).payload,
    });
    writeFileSync(file, lines.join("\n"));
    const again = run(dir);
    expect(again.code, again.stderr).toBe(0);
    const ids = outputs(dir).map((l) => l.headers.ce_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(1796);
  });
});
