// Summarises `node --cpu-prof` profiles (bench/kafka.ts with BENCH_KAFKA_PROFILE=1): self time per function and
// per part of the code (changecast's stages, kafkajs, librdkafka's binding, node internals, GC, idle).
// Usage: npx tsx bench/profile-summary.ts bench/results/profiles/*.cpuprofile
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function part(url: string, fn: string): string {
  if (fn === "(idle)") return "idle (waiting for I/O)";
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)") return "native (program)";
  const m = /\/src\/([a-z-]+)\//.exec(url);
  if (m && !url.includes("node_modules")) return `changecast src/${m[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith("node:")) return "node internals";
  return url ? "other" : "native / builtins";
}

for (const file of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const parts = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const k = part(url, functionName);
    parts.set(k, (parts.get(k) ?? 0) + us);
    const f = `${functionName || "(anonymous)"} ${url.replace(/.*\/(node_modules|src)\//, "$1/")}:${lineNumber + 1}`;
    fns.set(f, (fns.get(f) ?? 0) + us);
  }
  const pct = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + "%";
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled`);
  for (const [k, us] of [...parts].sort((a, b) => b[1] - a[1]).slice(0, 14))
    console.log(`  ${pct(us)}  ${k}`);
  console.log("  top functions (self):");
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(us)}  ${k}`);
}
