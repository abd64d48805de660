// Credentials in URLs never reach an error message, and passwords with URL-special characters (written raw or
// percent-encoded) authenticate as written: the Schema Registry client against a local HTTP server.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { redactText, redactUrl, splitUrlCredentials } from "../../src/config/redact.js";
import { RemoteRegistry } from "../../src/schemas/remote-registry.js";
import { checkCommand } from "../../src/cli/check.js";

const PASSWORDS = ["pa/ss", "p+ss", "pa#ss", "p?a/s#s+@x", "100%"];

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((done) => s.close(done));
});

/** A registry stand-in: records the Authorization header; answers 401 when `reject`. */
async function registry(reject = false): Promise<{ port: number; auth: (string | undefined)[] }> {
  const auth: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(reject ? 401 : 200, { "content-type": "application/json" });
    res.end(
      reject
        ? JSON.stringify({ error_code: 401, message: "Unauthorized" })
        : '{"compatibilityLevel":"BACKWARD"}',
    );
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { port: (server.address() as AddressInfo).port, auth };
}

/** The error a promise rejects with (null when it resolves). */
const failure = (p: Promise<unknown>) => p.then(() => null).catch((e: unknown) => e as Error);

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("Schema Registry URL credentials", () => {
  it("a password with / + # ? @ % works raw or percent-encoded, and baseUrl carries no credential", async () => {
    const { port, auth } = await registry();
    for (const password of PASSWORDS) {
      for (const written of [password, encodeURIComponent(password)]) {
        if (written === "100%" && password !== written) continue;
        const remote = new RemoteRegistry(`http://svc:${written}@127.0.0.1:${port}/`, { env: {} });
        expect(remote.baseUrl).toBe(`http://127.0.0.1:${port}`);
        await remote.compatibility();
        expect(auth.at(-1), written).toBe(basic("svc", password));
      }
    }
  });

  it("errors name the registry without the password: unreachable, rejected, not a URL", async () => {
    const { port } = await registry(true);
    const rejected = await failure(
      new RemoteRegistry(`http://svc:pa/ss#w0rd@127.0.0.1:${port}`, { env: {} }).compatibility(),
    );
    expect(rejected?.message).toContain(
      `registry rejected credentials (HTTP 401 on GET http://127.0.0.1:${port}/config`,
    );
    const closed = await registry();
    await new Promise((done) => servers.pop()!.close(done));
    const unreachable = await failure(
      new RemoteRegistry(`http://svc:pa/ss#w0rd@127.0.0.1:${closed.port}`, {
        env: {},
        maxAttempts: 1,
      }).compatibility(),
    );
    expect(unreachable?.message).toContain(`registry GET http://127.0.0.1:${closed.port}/config`);
    const invalid = (() => {
      try {
        new RemoteRegistry("http://svc:pa/ss#w0rd@", { env: {} });
        return null;
      } catch (e) {
        return e as Error;
      }
    })();
    expect(invalid?.message).toBe(`registry: Schema Registry URL: "http://svc:***@" is not a valid URL`);
    for (const err of [rejected, unreachable, invalid]) expect(err?.message).not.toMatch(/pa\/ss|w0rd|ss#/);
  });
});

describe("redaction", () => {
  it("masks the password of every URL in a text, even unencoded or in query parameters", () => {
    expect(redactUrl("postgres://app:p/ss#x@db:5432/state")).toBe("postgres://app:***@db:5432/state");
    expect(redactUrl("https://APIKEY123@registry.example")).toBe("https://***@registry.example");
    expect(redactUrl("postgres://db/state?user=app&password=s3cret&sslmode=require")).toBe(
      "postgres://db/state?user=app&password=***&sslmode=require",
    );
    expect(redactText("connect http://u:a@b@h1 failed; retry https://v:c@h2/x")).toBe(
      "connect http://u:***@h1 failed; retry https://v:***@h2/x",
    );
    expect(redactText("auth failed for s3cret and s3cr%2Ft", ["s3cret", "s3cr/t"])).toBe(
      "auth failed for *** and ***",
    );
    expect(redactUrl("http://localhost:8083")).toBe("http://localhost:8083");
  });

  it("splits credentials from an http URL", () => {
    expect(splitUrlCredentials("https://user:p%2Fss@connect.example:8083/", "x")).toEqual({
      url: "https://connect.example:8083",
      username: "user",
      password: "p/ss",
    });
    expect(splitUrlCredentials("http://connect:8083", "x")).toEqual({
      url: "http://connect:8083",
      username: undefined,
      password: undefined,
    });
    expect(() => splitUrlCredentials("ftp://u:s3cret@h", "Kafka Connect URL")).toThrow(
      `Kafka Connect URL: "ftp://u:***@h" is not an http:// or https:// URL`,
    );
  });
});

describe("`changecast check` on URLs that cannot be used", () => {
  it("reports a state URL that does not parse or names no host, and a bad registry URL, without passwords", () => {
    const dir = mkdtempSync(join(tmpdir(), "changecast-urls-"));
    mkdirSync(join(dir, "transforms"));
    mkdirSync(join(dir, "schemas"));
    writeFileSync(
      join(dir, "schemas", "E.avsc"),
      JSON.stringify({ type: "record", name: "E", fields: [{ name: "id", type: "long" }] }),
    );
    writeFileSync(
      join(dir, "transforms", "t.yaml"),
      "table: s.t\nevents:\n  - name: E\n    schema: schemas/E.avsc\n    topic: e\n    key: after.id\n    fields:\n      id: after.id\n",
    );
    writeFileSync(join(dir, "in.jsonl"), "");
    const config = join(dir, "changecast.yaml");
    const check = (state: string, registry: string) => {
      writeFileSync(
        config,
        [
          "pipeline: p",
          "source: { topicPrefix: db, files: [in.jsonl] }",
          `registry: { url: '${registry}' }`,
          `state: '${state}'`,
          "transforms: [transforms/t.yaml]",
        ].join("\n"),
      );
      const lines: string[] = [];
      const code = checkCommand({ config }, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
      return { code, out: lines.join("\n") };
    };
    const bad = check("postgres://app:pa/ss#w0rd@db:5432/state", "ftp://svc:s3cret@registry");
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(
      `changecast.yaml:4: state: "postgres://app:***@db:5432/state" is not a valid PostgreSQL URL`,
    );
    expect(bad.out).toContain(
      `changecast.yaml:3: registry.url: "ftp://svc:***@registry" is not an http:// or https:// URL`,
    );
    expect(bad.out).not.toMatch(/pa\/ss|w0rd|s3cret/);
    expect(check("postgres:///state", "").out).toContain(`state: "postgres:///state" names no host`);
    expect(check("postgres://app:p%2Fss@db/state", "http://svc:pa/ss@registry:8081").code).toBe(0);
  });
});
