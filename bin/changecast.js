#!/usr/bin/env node
// The compiled CLI (dist/, built by `npm run build`). Runs in this very process, so signals such as SIGTERM
// reach the worker.
import { existsSync } from "node:fs";
import module from "node:module";
import v8 from "node:v8";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(
    `changecast needs Node.js 22.15 or later (24 LTS recommended); this is ${process.version}\n`,
  );
  process.exit(2);
}
// `run` is a long-lived worker whose peak memory is V8's heap full of the garbage of batches in flight
// (docs/kafka.md, Throughput): node 24 grows the young generation to 64 MB per semi-space, and lets the old one
// grow to ~4× what is live before a full collection. The young generation's size cannot change once V8 is up
// (v8.setFlagsFromString has no effect on it), so `run` replaces this process with itself (same pid, so signals
// still reach the worker) with 16 MB; the old generation's growth factor can, and is set to 2×. Node flags that
// choose either themselves win.
const SEMI_SPACE_MB = 16;
const HEAP_GROWING_PERCENT = 100;
const nodeFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
const flagGiven = (name) =>
  nodeFlags.some((f) => new RegExp(`^--${name.replaceAll("-", "[-_]")}\\b`).test(f));
const run = process.argv[2] === "run";
if (run && typeof process.execve === "function" && !flagGiven("max-semi-space-size")) {
  process.execve(
    process.execPath,
    [
      process.execPath,
      ...process.execArgv,
      `--max-semi-space-size=${SEMI_SPACE_MB}`,
      ...process.argv.slice(1),
    ],
    process.env,
  );
}
if (run && !flagGiven("heap-growing-percent"))
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
// V8's compiled code of dist/ and its dependencies kept across runs (Node's compile cache, in the system's temp
// directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off): start-up, a fixed cost of every command, takes ~15 % less
module.enableCompileCache?.();
const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("changecast: dist/ is missing; run `npm run build` (or `npm ci`, which builds it)\n");
  process.exit(2);
}
await import(main.href);
