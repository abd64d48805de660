// Opening the state store: an empty or corrupt SQLite file is an error naming the file and what to do (never
// a silent start over that would publish everything again); a state URL that does not parse, or names no host,
// is an error without its password (never a silent fallback to localhost).
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openStateStore, StateStoreError } from "../../src/state/store.js";

const failure = (url: string, dir?: string) =>
  openStateStore(url, dir).then(
    async (s) => {
      await s.close();
      return null;
    },
    (e: unknown) => e as Error,
  );

describe("SQLite state file", () => {
  it("a zero-length file is an error naming the file and what to do; the file is left as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-state-"));
    const file = join(dir, "state.sqlite");
    writeFileSync(file, "");
    const err = await failure("sqlite:state.sqlite", dir);
    expect(err).toBeInstanceOf(StateStoreError);
    expect(err!.message).toContain(`state file ${file} is empty (0 bytes`);
    expect(err!.message).toContain("restore it from a backup, or delete it");
    expect(statSync(file).size).toBe(0);
  });

  it("a file that is not a SQLite database, or whose header is followed by garbage, is an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-state-"));
    const text = join(dir, "text.sqlite");
    writeFileSync(text, "offsets: none\n".repeat(100));
    expect((await failure("sqlite:text.sqlite", dir))!.message).toContain(
      `state file ${text} is not a SQLite database (1400 bytes)`,
    );
    const garbage = join(dir, "garbage.sqlite");
    const bytes = Buffer.concat([Buffer.from("SQLite format 3\0", "latin1"), Buffer.alloc(8192, 0x5a)]);
    writeFileSync(garbage, bytes);
    const err = await failure("sqlite:garbage.sqlite", dir);
    expect(err).toBeInstanceOf(StateStoreError);
    expect(err!.message).toContain(`state file ${garbage} is corrupt`);
    expect(readFileSync(garbage).equals(bytes)).toBe(true);
  });

  it("a missing file is created; an existing state opens with its data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-state-"));
    const first = await openStateStore("sqlite:sub/state.sqlite", dir);
    await first.knex.schema.createTable("t", (t) => t.integer("n"));
    await first.knex("t").insert({ n: 7 });
    expect(first.location).toBe(join(dir, "sub", "state.sqlite"));
    await first.close();
    const second = await openStateStore("sqlite:sub/state.sqlite", dir);
    expect(await second.knex("t").select("n")).toEqual([{ n: 7 }]);
    await second.close();
  });
});

describe("state URL", () => {
  it("a Postgres URL that does not parse is an error without the password, telling how to encode it", async () => {
    for (const url of [
      "postgres://app:pa/ss#w0rd@db.example:5432/state",
      "postgresql://app:se#cret@db.example/state",
      "postgres://app:s3cret@db.example:port/state",
    ]) {
      const err = await failure(url);
      expect(err, url).toBeInstanceOf(StateStoreError);
      expect(err!.message).toContain("is not a valid PostgreSQL URL; percent-encode");
      expect(err!.message).toContain("app:***@");
      expect(err!.message).not.toMatch(/pa\/ss|w0rd|se#|cret/);
    }
  });

  it("a Postgres URL without a host is an error, not a silent localhost", async () => {
    const err = await failure("postgres:///state");
    expect(err).toBeInstanceOf(StateStoreError);
    expect(err!.message).toContain(`"postgres:///state" names no host`);
    const withPassword = await failure("postgres://app:s3cret@/state");
    expect(withPassword).toBeInstanceOf(StateStoreError);
    expect(withPassword!.message).not.toContain("s3cret");
    // a socket directory is a host
    // migrate: false — no server to connect to; only the URL is checked here
    const socket = await openStateStore("postgres:///state?host=/var/run/postgresql", undefined, {
      migrate: false,
    });
    expect(socket.location).toBe("postgres:///state?host=/var/run/postgresql");
    await socket.close();
  });

  it("an unsupported scheme or an empty sqlite name is an error without the password", async () => {
    const err = await failure("mysql://app:s3cret@db.example/state");
    expect(err!.message).toBe(
      `state: unsupported state store URL "mysql://app:***@db.example/state" (use sqlite:<file> or postgres://…)`,
    );
    expect((await failure("sqlite:"))!.message).toContain(`"sqlite:" names no file`);
  });

  it("shows a Postgres state without its password", async () => {
    const s = await openStateStore(
      "postgres://app:p%2Fss%23w@db.example:5432/state?sslmode=require",
      undefined,
      { migrate: false },
    );
    expect(s.location).toBe("postgres://app:***@db.example:5432/state?sslmode=require");
    await s.close();
  });
});
