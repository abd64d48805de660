#!/usr/bin/env node
// The compiled CLI (dist/, built by `npm run build`). Runs in this very process, so signals such as SIGTERM
// reach the worker.
import { existsSync } from "node:fs";
import module from "node:module";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(
    `changecast needs Node.js 22.15 or later (24 LTS recommended); this is ${process.version}\n`,
  );
  process.exit(2);
}
// V8's compiled code of dist/ and its dependencies kept across runs (Node's compile cache, in the system's temp
// directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off): start-up, a fixed cost of every command, takes ~15 % less
module.enableCompileCache?.();
const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("changecast: dist/ is missing; run `npm run build` (or `npm ci`, which builds it)\n");
  process.exit(2);
}
await import(main.href);
