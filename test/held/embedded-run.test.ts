// Embedded `run` (files in, JSON lines out, SQLite state): a phone parked in one run is kept for the next run
// and published there when its person arrives; the summary says what is held.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../src/cli/run.js";
import { crmProject, person, phone } from "./support.js";

async function run(dir: string): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCommand(
    { config: join(dir, "changecast.yaml") },
    { out: (l) => err.push(l), err: (l) => err.push(l) },
  );
  return { code, err: err.join("\n") };
}

function published(dir: string, topic: string): string[] {
  const file = join(dir, ".changecast", "out", `${topic}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { key: string }).key);
}

describe("held changes in embedded run", () => {
  it("keeps a parked change for the next run and publishes it when its parent arrives", async () => {
    const dir = crmProject({ config: ["  files: [captures/*.jsonl]"] });
    mkdirSync(join(dir, "captures"));
    writeFileSync(join(dir, "captures", "a-phones.jsonl"), phone(1, 10, 100) + "\n");
    const first = await run(dir);
    expect(first.code).toBe(0);
    expect(first.err).toContain(
      "held (requires): 1 parked, 0 released, 0 timed out, 1 still held for the next run",
    );
    expect(published(dir, "phones")).toEqual([]);

    writeFileSync(join(dir, "captures", "b-persons.jsonl"), person(10, "Ada", 200) + "\n");
    appendFileSync(join(dir, "captures", "a-phones.jsonl"), phone(2, 10, 101) + "\n");
    const second = await run(dir);
    expect(second.code).toBe(0);
    expect(published(dir, "persons")).toEqual(["10"]);
    // phone 2 waited behind nothing (its person arrived after it in this run: parked, then released)
    expect(published(dir, "phones")).toEqual(["1", "2"]);
    expect(second.err).toContain("released");
  });
});
