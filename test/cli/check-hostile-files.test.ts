// Hostile config, transform and schema files for `changecast check`, run as a child process (a read that
// blocks — a FIFO, /dev/zero — is then a timeout, not a hung test run): a file:line problem, exit 1, no hang.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];

/** A project whose files are given (strings or bytes); `check` runs in a child process (a hang is a timeout). */
function check(files: Record<string, string | Buffer>, setup?: (dir: string) => void, command = "check") {
  const dir = mkdtempSync(join(tmpdir(), "cc-hostile-"));
  const all: Record<string, string | Buffer> = {
    "changecast.yaml": [
      "pipeline: hostile",
      "source: { connector: postgres, topicPrefix: db, format: json, files: [in.jsonl] }",
      "transforms: [transforms/*.yaml]",
    ].join("\n"),
    "in.jsonl": "",
    "schemas/X.avsc": JSON.stringify({
      type: "record",
      name: "X",
      namespace: "io.hostile",
      fields: [{ name: "v", type: ["null", "string"], default: null }],
    }),
    "transforms/x.yaml": [
      "table: inventory.x",
      "events:",
      "  - name: X",
      "    schema: schemas/X.avsc",
      "    topic: hostile.out",
      '    key: "\\"k\\""',
      "    fields: { v: after.s }",
    ].join("\n"),
    ...files,
  };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  setup?.(dir);
  const r = spawnSync(process.execPath, [...CLI, command, "--config", join(dir, "changecast.yaml")], {
    encoding: "utf8",
    timeout: 30_000,
    // a process blocked in a read may never act on SIGTERM
    killSignal: "SIGKILL",
  });
  rmSync(dir, { recursive: true, force: true });
  return { code: r.status, out: r.stdout + r.stderr, timedOut: r.error !== undefined };
}

describe("hostile config files: a file:line problem, exit 1, no hang", () => {
  it("the project as given passes", () => {
    expect(check({})).toMatchObject({ code: 0, timedOut: false });
  });

  // a schema's problem is reported where the transform names it
  it.each([
    [
      "a schema that is a FIFO",
      "schemas/X.avsc",
      "fifo",
      /x\.yaml:4: schema file "schemas\/X\.avsc" is not a regular/,
    ],
    [
      "a schema that links to /dev/zero",
      "schemas/X.avsc",
      "/dev/zero",
      /x\.yaml:4: schema file .* is not a regular/,
    ],
    [
      "a transform that links to /dev/zero",
      "transforms/z.yaml",
      "/dev/zero",
      /z\.yaml:1: file is not a regular/,
    ],
    [
      "a config that links to /dev/zero",
      "changecast.yaml",
      "/dev/zero",
      /changecast\.yaml:1: file is not a regular/,
    ],
  ])("%s is not a regular file", (_name, path, target, message) => {
    const r = check({}, (dir) => {
      rmSync(join(dir, path), { force: true });
      if (target === "fifo") spawnSync("mkfifo", [join(dir, path)]);
      else symlinkSync(target, join(dir, path));
    });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(message);
    expect(r.out).not.toMatch(/\n\s+at /);
  });

  it("a schema path naming a directory says so", () => {
    const r = check({}, (dir) => {
      rmSync(join(dir, "schemas/X.avsc"));
      mkdirSync(join(dir, "schemas/X.avsc"));
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/X\.avsc.* is a directory/);
  });

  it("a transform with bytes that are not UTF-8 is a problem at their line, not U+FFFD in a key", () => {
    const transform = Buffer.concat([
      Buffer.from(
        'table: inventory.x\nevents:\n  - name: X\n    schema: schemas/X.avsc\n    topic: hostile.out\n    key: "\\"k',
      ),
      Buffer.from([0xff]),
      Buffer.from('\\""\n    fields: { v: after.s }\n'),
    ]);
    const r = check({ "transforms/x.yaml": transform });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/transforms\/x\.yaml:6: .*not valid UTF-8/);
  });

  it("a schema file starting with a UTF-8 byte-order mark is read like any JSON file", () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const avsc = JSON.stringify({
      type: "record",
      name: "X",
      namespace: "io.hostile",
      fields: [{ name: "v", type: ["null", "string"], default: null }],
    });
    expect(check({ "schemas/X.avsc": Buffer.concat([bom, Buffer.from(avsc)]) })).toMatchObject({ code: 0 });
  });
});

describe("hostile transform content", () => {
  it("a field given a YAML mapping instead of an expression says so (not 'expression is empty')", () => {
    const r = check({
      "transforms/x.yaml": [
        "table: inventory.x",
        "events:",
        "  - name: X",
        "    schema: schemas/X.avsc",
        "    topic: hostile.out",
        '    key: "\\"k\\""',
        "    fields:",
        "      v: {a: 1}",
      ].join("\n"),
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/x\.yaml:8: field "v": expected a CEL expression \(text\), got a YAML mapping/);
  });
});

describe("hostile embedded input files (run)", () => {
  it.each([
    ["a FIFO", "fifo"],
    ["a link to /dev/zero", "/dev/zero"],
    ["a directory", "dir"],
  ])("a source file that is %s stops the run with a clear error, no hang", (_name, kind) => {
    const r = check(
      {},
      (dir) => {
        const path = join(dir, "in.jsonl");
        rmSync(path, { force: true });
        if (kind === "fifo") spawnSync("mkfifo", [path]);
        else if (kind === "dir") mkdirSync(path);
        else symlinkSync(kind, path);
      },
      "run",
    );
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/source\.files: "in\.jsonl" is (not a regular file|a directory)/);
  });
});
