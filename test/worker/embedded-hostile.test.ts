// Embedded `run` on a hostile source file: every line accounted for, nothing lost or twice across runs.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];

function run(dir: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, "run", "--config", join(dir, "changecast.yaml"), ...args], {
    encoding: "utf8",
    env: { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function outputLines(dir: string): { topic: string; headers: Record<string, string>; payload?: string }[] {
  const out = join(dir, ".changecast", "out");
  return readdirSync(out)
    .sort()
    .flatMap((f) =>
      readFileSync(join(out, f), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { topic: string; headers: Record<string, string>; payload?: string }),
    );
}

describe("embedded run on hostile input", () => {
  it("blank, BOM, CRLF, pretty-printed, over-long, non-UTF-8 and unclosed lines: each counted once", () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-hostile-"));
    for (const p of ["changecast.yaml", "transforms", "schemas"])
      cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    const config = readFileSync(join(dir, "changecast.yaml"), "utf8")
      .replace(/files:[^]*?\n(?=kafka:)/, "files: [in/*.jsonl]\n")
      .replace("errors:", "limits: { maxRecordBytes: 50000 }\nerrors:");
    writeFileSync(join(dir, "changecast.yaml"), config);
    const lines = readFileSync(join(ROOT, "captures/postgres/dbserver1.inventory.customers.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean);
    const input = Buffer.concat([
      Buffer.from(`\uFEFF${lines[0]}\r\n\n   \n${JSON.stringify(JSON.parse(lines[1]!), null, 2)}\n`),
      Buffer.from(`${lines[2]!.replace("@", "\u00e9@")}\n`), // still UTF-8
      Buffer.from(`{"topic":"dbserver1.inventory.customers","payload":"${"x".repeat(60000)}"}\n`),
      Buffer.from(lines[3]!.slice(0, 40)),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`${lines[3]!.slice(40)}\n`),
      Buffer.from(`{"topic": "dbserver1.inventory.customers",\n`), // never closed: a new value starts
      Buffer.from(`${lines[4]}\n\n`),
    ]);
    mkdirSync(join(dir, "in"));
    writeFileSync(join(dir, "in", "customers.jsonl"), input);
    // lines 1-3: record, blank, blank; then the pretty-printed record; then one line each
    const pretty = JSON.stringify(JSON.parse(lines[1]!), null, 2).split("\n").length;
    const long = 4 + pretty + 1;

    const first = run(dir, "--batch-size", "2");
    expect(first.code, first.stderr).toBe(0);
    // 7 records (the pretty-printed one spanning its lines), 3 dead letters, 3 blank lines
    expect(first.stdout).toMatch(
      /reconciliation: 7 records in = 4 mapped \(\d+ events out\) \+ 0 filtered \+ 3 dead letters ✓; 3 blank lines skipped/,
    );
    const dlq = outputLines(dir).filter((l) => l.topic === "changecast.inventory.dlq");
    expect(dlq.map((l) => l.headers["__connect.errors.exception.message"])).toEqual([
      `line ${long} of 60054 bytes exceeds limits.maxRecordBytes (50000)`,
      expect.stringMatching(new RegExp(`^line ${long + 1} is not valid UTF-8 text`)),
      expect.stringMatching(
        new RegExp(`^line ${long + 2}: the JSON value it opens is not closed before line ${long + 3}`),
      ),
    ]);
    const published = outputLines(dir).length;

    const second = run(dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/reconciliation: 0 records in = 0 mapped/);
    expect(outputLines(dir)).toHaveLength(published);
  });
});
