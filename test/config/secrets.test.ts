// Credentials in URLs never reach an error message, and passwords with URL-special characters (written raw or
// percent-encoded) authenticate as written: the Schema Registry client against a local HTTP server.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { redactText, redactUrl, splitUrlCredentials } from "../../src/config/redact.js";
import { RemoteRegistry } from "../../src/schemas/remote-registry.js";

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
