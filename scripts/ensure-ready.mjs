// `npm start` / `npm test` on a fresh clone: install from the lock file (npm ci, never rewriting it) when
// node_modules is missing or older than package-lock.json, then build dist/ when it is missing or older than
// any source file. Does nothing when both are current.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  console.error(
    `changecast needs Node.js 22.15 or later (24 LTS recommended); this is ${process.version}.\n` +
      "`source scripts/use-node.sh` installs Node 24 from the npm registry and puts it first on PATH.",
  );
  process.exit(1);
}

const root = new URL("..", import.meta.url).pathname;
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function run(cmd, args) {
  // CKJS_LINKING=dynamic: where no prebuilt binary of the optional native Kafka client can be downloaded, it is
  // built against the system's OpenSSL/zlib/zstd instead of downloading their sources (docs/kafka.md)
  const env = { ...process.env, CKJS_LINKING: process.env.CKJS_LINKING ?? "dynamic" };
  const res = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env, shell: process.platform === "win32" });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const installed = join(root, "node_modules", ".package-lock.json");
if (mtime(installed) < mtime(join(root, "package-lock.json"))) {
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
}
const built = join(root, "dist", "cli", "main.js");
if (mtime(built) < Math.max(newest(join(root, "src")), mtime(join(root, "tsconfig.build.json")))) {
  run("npm", ["run", "--silent", "build"]);
}
