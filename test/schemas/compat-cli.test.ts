// `changecast schemas compat`: output and exit codes (0 compatible, 1 incompatible, 2 invalid input).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runSchemasCompat } from "../../src/cli/schemas-compat.js";

const fixtures = fileURLToPath(new URL("./fixtures/compat/", import.meta.url));
const fixture = (name: string) => join(fixtures, name);
const tmp = mkdtempSync(join(tmpdir(), "changecast-compat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tempFile(name: string, content: string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

async function run(level: string, newFile: string, previousFiles: string[]) {
  let out = "";
  let err = "";
  const code = await runSchemasCompat(
    { level, newFile, previousFiles },
    { write: (s) => void (out += s) },
    { write: (s) => void (err += s) },
  );
  return { code, out, err };
}

describe("runSchemasCompat", () => {
  it("prints compatible and exits 0", async () => {
    const r = await run("BACKWARD", fixture("customer-v2.avsc"), [fixture("customer-v1.avsc")]);
    expect(r).toEqual({ code: 0, out: "compatible\n", err: "" });
  });

  it("prints INCOMPATIBLE with one line per reason and exits 1", async () => {
    const r = await run("BACKWARD", fixture("customer-v3-bad.avsc"), [
      fixture("customer-v1.avsc"),
      fixture("customer-v2.avsc"),
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual([
      "INCOMPATIBLE under BACKWARD",
      "against version 2 (previous[1]): /fields/segment: reader field has no default and writer lacks it [new schema reading version 2 data]",
      "",
    ]);
  });

  it("FULL_TRANSITIVE reports every failing version and direction", async () => {
    const r = await run("FULL_TRANSITIVE", fixture("customer-v3-bad.avsc"), [
      fixture("customer-v1.avsc"),
      fixture("customer-v2.avsc"),
    ]);
    expect(r.code).toBe(1);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("INCOMPATIBLE under FULL_TRANSITIVE");
    expect(lines.slice(1).sort()).toEqual(
      [
        "against version 1 (previous[0]): /fields/segment: reader field has no default and writer lacks it [new schema reading version 1 data]",
        "against version 1 (previous[0]): /fields/email: reader field has no default and writer lacks it [version 1 reading new data]",
        "against version 2 (previous[1]): /fields/segment: reader field has no default and writer lacks it [new schema reading version 2 data]",
        "against version 2 (previous[1]): /fields/email: reader field has no default and writer lacks it [version 2 reading new data]",
      ].sort(),
    );
  });

  it("accepts the level in any case", async () => {
    const r = await run("forward", fixture("customer-v2.avsc"), [fixture("customer-v1.avsc")]);
    expect(r.code).toBe(0);
  });

  it("NONE and no previous schema are compatible", async () => {
    expect((await run("NONE", fixture("customer-v3-bad.avsc"), [fixture("customer-v1.avsc")])).code).toBe(0);
    expect((await run("FULL", fixture("customer-v3-bad.avsc"), [])).code).toBe(0);
  });

  it("accepts a primitive schema file", async () => {
    const r = await run("BACKWARD", tempFile("long.avsc", '"long"'), [tempFile("int.avsc", '"int"')]);
    expect(r.code).toBe(0);
  });

  it.each([
    [
      "an unknown level",
      "SIDEWAYS",
      fixture("customer-v2.avsc"),
      [fixture("customer-v1.avsc")],
      /unknown compatibility level/,
    ],
    [
      "an unreadable new file",
      "BACKWARD",
      join(tmp, "missing.avsc"),
      [fixture("customer-v1.avsc")],
      /missing\.avsc: cannot read/,
    ],
    [
      "an unreadable previous file",
      "BACKWARD",
      fixture("customer-v2.avsc"),
      [join(tmp, "gone.avsc")],
      /gone\.avsc: cannot read/,
    ],
    [
      "invalid JSON",
      "BACKWARD",
      fixture("invalid-json.avsc"),
      [fixture("customer-v1.avsc")],
      /invalid-json\.avsc: invalid JSON/,
    ],
    [
      "an invalid schema",
      "BACKWARD",
      fixture("customer-v2.avsc"),
      [fixture("invalid-schema.avsc")],
      /invalid-schema\.avsc: invalid Avro schema: .*NoSuchType/,
    ],
  ])("exits 2 on %s, with the reason on stderr", async (_name, level, newFile, previous, message) => {
    const r = await run(level, newFile, previous);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
  });
});
