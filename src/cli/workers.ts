// `changecast run --workers N`: N worker processes of one pipeline on this machine, i.e. N members of the
// consumer group changecast.<pipeline> sharing the source partitions (one JavaScript thread each, so N cores).
// The parent only supervises: it starts the children with its own node flags (loader, --cpu-prof …), forwards
// SIGTERM/SIGINT (each child finishes its batch, commits and leaves the group), and when one child stops on its
// own (a fatal error) it stops the others and exits with that child's code, for the supervisor to restart all.
import { spawn, type ChildProcess } from "node:child_process";
import { loadPipelineConfig } from "../config/pipeline-config.js";
import type { CommandIO } from "./io.js";

/** The command line of one child: the parent's, without --workers. */
export function childArguments(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--workers") i++;
    else if (!a.startsWith("--workers=")) out.push(a);
  }
  return out;
}

/**
 * Why N workers cannot run on this config, or null. Kafka mode only (an embedded run reads files once), and a state
 * store the workers can share: the SQLite writer lock is one process per file, a Postgres state is shared.
 */
export function workersProblem(configFile: string, workers: number): string | null {
  if (!Number.isInteger(workers) || workers < 1) return `--workers: ${workers} is not a positive integer`;
  if (workers === 1) return null;
  const config = loadPipelineConfig(configFile);
  if (config.kafka.brokers.length === 0)
    return "--workers needs Kafka mode (kafka.brokers): an embedded run reads its input files once, in one process";
  if (!/^postgres(ql)?:/.test(config.state))
    return (
      "--workers needs a state store the workers can share (state: postgres://…): a SQLite state file takes " +
      "one process (its writer lock); with SQLite, start one process per state file instead"
    );
  return null;
}

export async function runWorkers(workers: number, io: CommandIO): Promise<number> {
  const [, script, ...rest] = process.argv;
  const args = [...process.execArgv, script!, ...childArguments(rest)];
  const children: ChildProcess[] = [];
  let stopping = false;
  let exitCode = 0;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    const exits: Promise<void>[] = [];
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, args, {
        stdio: "inherit",
        env: { ...process.env, CHANGECAST_WORKER_INDEX: String(i) },
      });
      children.push(child);
      exits.push(
        new Promise<void>((done) =>
          child.once("exit", (code, signal) => {
            const status = code ?? 2;
            if (!stopping) {
              io.err(
                `changecast: worker ${i} (pid ${child.pid}) exited with ${signal ?? status}; stopping the other workers`,
              );
              exitCode = Math.max(exitCode, status === 0 ? 2 : status);
              stop();
            } else exitCode = Math.max(exitCode, status);
            done();
          }),
        ),
      );
    }
    io.err(`changecast: started ${workers} workers (pids ${children.map((c) => c.pid).join(", ")})`);
    await Promise.all(exits);
    return exitCode;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}
