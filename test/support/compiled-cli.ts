// `npm run build`'s compilation into a private package layout (bin/, dist/, package.json, node_modules linked), so
// a test runs what `npx changecast` runs without touching the repository's dist/.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/** The compiled CLI's bin/changecast.js (CHANGECAST_ACCEPTANCE_BIN: one already built). */
export function compiledCli(): string {
  const given = process.env.CHANGECAST_ACCEPTANCE_BIN;
  if (given) return given;
  const pkg = mkdtempSync(join(tmpdir(), "changecast-pkg-"));
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const args = [
    "-p",
    join(ROOT, "tsconfig.build.json"),
    "--outDir",
    join(pkg, "dist"),
    "--declaration",
    "false",
  ];
  execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, stdio: "pipe" });
  mkdirSync(join(pkg, "bin"));
  cpSync(join(ROOT, "bin", "changecast.js"), join(pkg, "bin", "changecast.js"));
  cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"), "dir");
  return join(pkg, "bin", "changecast.js");
}
