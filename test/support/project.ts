// Temporary changecast projects for tests: a config, transform files and schemas in a temp directory.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** The product's Debezium fixtures: shared/ beside the repository (the source of truth). */
export const SHARED_FIXTURES = join(import.meta.dirname, "..", "..", "..", "shared", "fixtures", "debezium");
/** A byte-identical copy kept in the repository (test/fixtures-copy.test.ts), for clones without shared/ beside. */
export const FIXTURES_COPY = join(import.meta.dirname, "..", "fixtures", "debezium");
export const FIXTURES =
  process.env.DEBEZIUM_FIXTURES ?? (existsSync(SHARED_FIXTURES) ? SHARED_FIXTURES : FIXTURES_COPY);

/** A fixture record as a kcat -J line (key/value files hold the exact JsonConverter text). */
export function fixtureLine(flavour: "postgres" | "oracle", base: string, offset = 0): string {
  const index = JSON.parse(readFileSync(join(FIXTURES, flavour, "index.json"), "utf8")) as {
    records: { key_file: string; value_file: string; topic: string }[];
  };
  const entry = index.records.find((r) => r.value_file.startsWith(base));
  if (!entry) throw new Error(`no fixture ${flavour}/${base}`);
  return kcatLine(
    entry.topic,
    offset,
    readFixture(flavour, entry.key_file),
    readFixture(flavour, entry.value_file),
  );
}

export function readFixture(flavour: string, file: string): string | null {
  const text = readFileSync(join(FIXTURES, flavour, file), "utf8").trim();
  return text === "null" ? null : text;
}

export function kcatLine(topic: string, offset: number, key: string | null, payload: string | null): string {
  return JSON.stringify({
    topic,
    partition: 0,
    offset,
    tstype: "create",
    ts: 1710497000000 + offset,
    broker: 1,
    headers: [],
    key,
    payload,
  });
}

/** Writes files (path → content; objects as JSON) into a new temp directory and returns it. */
export function tempProject(files: Record<string, string | object>): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-test-"));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}
