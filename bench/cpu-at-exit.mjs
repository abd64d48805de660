// Preload of the replay-command benchmark: the process's CPU time (user + system, all threads) at exit, to the
// file BENCH_CPU_FILE names.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  if (process.env.BENCH_CPU_FILE)
    writeFileSync(process.env.BENCH_CPU_FILE, JSON.stringify(process.cpuUsage()));
});
