// The repository's copy of the Debezium fixtures (used when shared/ is not beside the clone) must be the same,
// byte for byte, as shared/fixtures/debezium whenever that is there (as in CI).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_COPY, SHARED_FIXTURES } from "./support/project.js";

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe.runIf(existsSync(SHARED_FIXTURES))("test/fixtures/debezium", () => {
  it("is a byte-identical copy of shared/fixtures/debezium", () => {
    const names = files(SHARED_FIXTURES);
    expect(names.length).toBeGreaterThan(0);
    expect(files(FIXTURES_COPY)).toEqual(names);
    for (const name of names)
      expect(
        readFileSync(join(FIXTURES_COPY, name)).equals(readFileSync(join(SHARED_FIXTURES, name))),
        name,
      ).toBe(true);
  });
});
