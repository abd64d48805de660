// The command line as a user runs it: the compiled CLI (bin/changecast.js → dist/), exit codes, pipes, progress.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { replayCommand } from "../../src/cli/replay.js";
import { runCommand } from "../../src/cli/run.js";
import { compiledCli } from "../support/compiled-cli.js";

const ROOT = join(import.meta.dirname, "..", "..");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NO_INFRA = { ...process.env, KAFKA_BROKERS: "", SCHEMA_REGISTRY_URL: "", STATE_URL: "" };

// `npm run build`'s compilation into a private package layout: what `npx changecast` runs
let bin = "";
beforeAll(() => {
  bin = compiledCli();
}, 180_000);

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: NO_INFRA });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function copyExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-cli-"));
  for (const p of ["changecast.yaml", "transforms", "schemas", "captures"])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

const CUSTOMERS = join("captures", "postgres", "dbserver1.inventory.customers.jsonl");

describe("changecast (compiled)", () => {
  it("--version prints the package version", () => {
    for (const flag of ["--version", "-V"]) {
      const r = cli(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    }
  });

  it("schemas compat: usage errors exit 2 like invalid input", () => {
    const dir = copyExample();
    const schema = join(dir, "schemas", "customer", "CustomerRegistered.avsc");
    const missingLevel = cli("schemas", "compat", schema);
    expect(missingLevel.code).toBe(2);
    expect(missingLevel.stderr).toMatch(/required option '-l, --level <level>'/);
    expect(cli("schemas", "compat", "--level", "BACKWARD").code).toBe(2);
    expect(cli("schemas", "compat", "--level", "BACKWARD", "--bogus", schema).code).toBe(2);
    expect(cli("schemas", "compat", "--level", "NOPE", schema).code).toBe(2);
    expect(cli("schemas", "compat", "--level", "BACKWARD", schema, schema).code).toBe(0);
  });

  it("replay … | head: exits 0 quietly when the reader goes away", async () => {
    const dir = copyExample();
    const input = join(dir, "many.jsonl");
    const lines = readFileSync(join(dir, CUSTOMERS), "utf8");
    writeFileSync(input, lines.repeat(40));
    const child = spawn(
      process.execPath,
      [bin, "replay", "--config", join(dir, "changecast.yaml"), "--input", input],
      { env: NO_INFRA, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const first = await new Promise<string>((done) => {
      let text = "";
      child.stdout.on("data", (d: Buffer) => {
        text += d.toString();
        // `head -1`: read one line, then close the pipe
        if (text.includes("\n")) {
          child.stdout.destroy();
          done(text.split("\n")[0] ?? "");
        }
      });
    });
    const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
    expect(JSON.parse(first)).toHaveProperty("topic");
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(code).toBe(0);
  });

  it("run --fail-on-dead-letters exits 3 when a record was dead-lettered, 0 without the option", () => {
    const withOption = copyExample();
    appendFileSync(join(withOption, CUSTOMERS), "this is not a kcat line\n");
    const failed = cli("run", "--config", join(withOption, "changecast.yaml"), "--fail-on-dead-letters");
    expect(failed.stdout).toMatch(/dead letters: 1/);
    expect(failed.code).toBe(3);

    const clean = copyExample();
    expect(cli("run", "--config", join(clean, "changecast.yaml"), "--fail-on-dead-letters").code).toBe(0);

    const without = copyExample();
    appendFileSync(join(without, CUSTOMERS), "this is not a kcat line\n");
    expect(cli("run", "--config", join(without, "changecast.yaml")).code).toBe(0);
  });
});

describe("replay and run options", () => {
  const capture = (io: { out: string[]; err: string[] }) => ({
    out: (l: string) => io.out.push(l),
    err: (l: string) => io.err.push(l),
  });

  it("replay --fail-on-dead-letters exits 3 when a line was dead-lettered", async () => {
    const dir = copyExample();
    const lines = readFileSync(join(dir, CUSTOMERS), "utf8") + "garbage\n";
    const replay = async (failOnDeadLetters: boolean) => {
      const stdin = new PassThrough();
      stdin.end(lines);
      const io = { out: [] as string[], err: [] as string[] };
      const code = await replayCommand(
        { config: join(dir, "changecast.yaml"), input: "-", failOnDeadLetters },
        capture(io),
        stdin,
      );
      return { code, io };
    };
    const failed = await replay(true);
    expect(failed.io.err.some((l) => /dead letter: DECODE/.test(l))).toBe(true);
    expect(failed.code).toBe(3);
    expect((await replay(false)).code).toBe(0);
  });

  it("replay shows progress on stderr with the share of the input done", async () => {
    const dir = copyExample();
    const io = { out: [] as string[], err: [] as string[] };
    const code = await replayCommand(
      { config: join(dir, "changecast.yaml"), input: join(dir, CUSTOMERS) },
      capture(io),
      new PassThrough(),
      { progress: { afterMs: 0, everyMs: 0 } },
    );
    expect(code).toBe(0);
    const progress = io.err.filter((l) => l.startsWith("progress: "));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatch(
      /^progress: \d+ records, \d+ % of the input \(\d+\.\d of \d+\.\d MiB\), \d+ records\/s, 0 dead letters, \d+ s$/,
    );
  });

  it("a short run prints no progress; a long embedded run does", async () => {
    const quiet = copyExample();
    const quietIO = { out: [] as string[], err: [] as string[] };
    await runCommand({ config: join(quiet, "changecast.yaml") }, capture(quietIO));
    expect(quietIO.err.filter((l) => l.startsWith("progress: "))).toEqual([]);

    const dir = copyExample();
    const io = { out: [] as string[], err: [] as string[] };
    const code = await runCommand({ config: join(dir, "changecast.yaml"), batchSize: 50 }, capture(io), {
      progress: { afterMs: 0, everyMs: 0 },
    });
    expect(code).toBe(0);
    const progress = io.err.filter((l) => l.startsWith("progress: "));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatch(/^progress: \d+ records, \d+ records\/s, 0 dead letters, \d+ s$/);
  });
});
