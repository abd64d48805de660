/**
 * Vitest global setup: makes sure the mock Kafka launcher is built before any test file runs.
 * Wire it with `test.globalSetup: ["test/infra/global-setup.ts"]` in vitest.config.ts.
 *
 * Runs scripts/setup-test-infra.sh, which is idempotent: ~0.1 s when everything is up to date,
 * ~2-4 min on a fresh machine (librdkafka build). Set CHANGECAST_SKIP_INFRA_SETUP=1 to skip.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env["CHANGECAST_SKIP_INFRA_SETUP"] === "1") return;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const script = join(root, "scripts", "setup-test-infra.sh");
  const res = spawnSync("bash", [script], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (res.error) throw new Error(`could not run ${script}: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(
      `${script} failed (exit ${res.status ?? "signal " + String(res.signal)}); see its output above`,
    );
  }
}
