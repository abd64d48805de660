// Runs the Dockerfile's steps without a Docker engine (CI machines have none), so that what the image would do is
// checked on every run: each stage is a fresh directory, COPY copies from the build context (the repository) or an
// earlier stage, RUN runs in the stage directory, ENV applies to later steps, USER is the user the command runs as,
// and at the end ENTRYPOINT + `--version`, then ENTRYPOINT + CMD (the example pipeline in embedded mode) must exit 0.
// `apt-get` steps are not run (they install build tools this machine already has; checked instead).
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const context = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "changecast-docker-"));
chmodSync(work, 0o755);
const keep = process.env.CHANGECAST_KEEP_DOCKER_STEPS === "1";

const lines = readFileSync(join(context, "Dockerfile"), "utf8")
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

const stages = new Map();
let stage = "";
let env = { ...process.env };
let user = "root";
let entrypoint = [];
let cmd = [];

function sh(command, opts = {}) {
  console.log(`[docker-steps] ${opts.as && opts.as !== "root" ? `(as ${opts.as}) ` : ""}${command}`);
  const args =
    opts.as && opts.as !== "root"
      ? ["runuser", ["-u", opts.as, "--", "bash", "-c", command]]
      : ["bash", ["-c", command]];
  const res = spawnSync(args[0], args[1], { cwd: stage, env, stdio: "inherit" });
  if (res.status !== 0) fail(`step failed (exit ${res.status ?? res.signal}): ${command}`);
}

function fail(message) {
  console.error(`[docker-steps] ${message}`);
  process.exit(1);
}

const json = (rest) => (rest.startsWith("[") ? JSON.parse(rest) : ["/bin/sh", "-c", rest]);

for (const line of lines) {
  const [instr, ...restParts] = line.split(/\s+/);
  const rest = line.slice(instr.length).trim();
  switch (instr.toUpperCase()) {
    case "FROM": {
      const name = /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? `stage${stages.size}`;
      stage = join(work, name);
      mkdirSync(stage, { recursive: true });
      chmodSync(stage, 0o755);
      stages.set(name, stage);
      env = { ...process.env };
      user = "root";
      break;
    }
    case "WORKDIR":
      break; // every stage's directory stands for its WORKDIR
    case "ENV": {
      const m = /^(\S+?)[= ](.*)$/.exec(rest);
      if (m) env[m[1]] = m[2];
      break;
    }
    case "COPY": {
      const from = restParts.find((p) => p.startsWith("--from="))?.slice("--from=".length);
      const paths = restParts.filter((p) => !p.startsWith("--"));
      const dest = paths.pop();
      const base = from === undefined ? context : stages.get(from);
      if (base === undefined) fail(`COPY --from=${from}: no such stage`);
      for (const src of paths) {
        const source = join(base, src.replace(/^\/app\/?/, ""));
        if (!existsSync(source)) fail(`COPY ${src}: not found`);
        const target =
          dest.endsWith("/") || paths.length > 1 ? join(stage, dest, basename(source)) : join(stage, dest);
        cpSync(source, target, {
          recursive: true,
          filter: (p) =>
            !/\/(node_modules|\.git|\.changecast)(\/|$)/.test(p.slice(base.length)) || base !== context,
        });
      }
      break;
    }
    case "RUN":
      if (/^apt-get\b/.test(rest)) {
        for (const tool of ["python3", "make", "g++"]) {
          if (spawnSync("bash", ["-c", `command -v ${tool}`]).status !== 0) fail(`${tool} is missing here`);
        }
        console.log(`[docker-steps] skipped (build tools present): ${rest}`);
      } else {
        if (/\bchown\b.*\bnode\b/.test(rest)) ensureUser("node");
        sh(rest, { as: user });
      }
      break;
    case "USER":
      user = rest;
      ensureUser(user);
      break;
    case "ENTRYPOINT":
      entrypoint = json(rest);
      break;
    case "CMD":
      cmd = json(rest);
      break;
    default:
      fail(`unsupported Dockerfile instruction: ${instr}`);
  }
}

function ensureUser(name) {
  if (name === "root" || spawnSync("id", [name]).status === 0) return;
  const res = spawnSync("useradd", ["--system", "--no-create-home", name], { stdio: "inherit" });
  if (res.status !== 0) fail(`could not create user ${name}`);
}

// The image's user must reach `node`: this machine's Node may sit under root's home (scripts/use-node.sh), so a copy
// of the running binary goes where every user can execute it.
const binDir = join(work, "node-bin");
mkdirSync(binDir, { recursive: true });
cpSync(process.execPath, join(binDir, "node"));
chmodSync(binDir, 0o755);
chmodSync(join(binDir, "node"), 0o755);
env.PATH = `${binDir}:${env.PATH ?? ""}`;
const quote = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
sh([...entrypoint, "--version"].map(quote).join(" "), { as: user });
sh([...entrypoint, ...cmd].map(quote).join(" "), { as: user });
if (!keep) rmSync(work, { recursive: true, force: true });
console.log(
  `[docker-steps] ok: the image's steps build and start the CLI${keep ? ` (kept in ${work})` : ""}`,
);
