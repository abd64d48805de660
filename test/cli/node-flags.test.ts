// `changecast run` starts itself with a smaller V8 young generation (bin/changecast.js; docs/kafka.md, Throughput):
// the peak memory of a worker draining a backlog is mostly V8's heap.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bin = join(import.meta.dirname, "..", "..", "bin", "changecast.js");
// a preload that reports the process' node flags and pid as it runs the CLI
const report = `data:text/javascript,process.stderr.write("FLAGS " + JSON.stringify({ pid: process.pid, flags: process.execArgv.filter((f) => !f.startsWith("--import")) }) + "\\n")`;

function flagsOf(args: string[], env: NodeJS.ProcessEnv = {}): { pid: number; flags: string[] }[] {
  const r = spawnSync(process.execPath, [`--import=${report}`, bin, ...args], {
    env: { ...process.env, NODE_OPTIONS: "", ...env },
    encoding: "utf8",
  });
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("FLAGS "))
    .map((l) => JSON.parse(l.slice(6)) as { pid: number; flags: string[] });
}

describe("bin/changecast.js node flags", () => {
  it("run restarts itself in place (same pid) with a 16 MB semi-space", () => {
    const seen = flagsOf(["run", "--config", "/nonexistent/changecast.yaml"]);
    expect(seen).toHaveLength(2);
    expect(seen[0]!.flags).toEqual([]);
    expect(seen[1]).toEqual({ pid: seen[0]!.pid, flags: ["--max-semi-space-size=16"] });
  });

  it("a size chosen by the user's node flags is kept, and other commands start once", () => {
    const chosen = flagsOf(["run", "--config", "/nonexistent/changecast.yaml"], {
      NODE_OPTIONS: "--max-semi-space-size=32",
    });
    expect(chosen).toHaveLength(1);
    expect(flagsOf(["--version"])).toEqual([{ pid: expect.any(Number) as number, flags: [] }]);
  });
});
