// RemoteRegistry (the REST client) against the embedded registry served over HTTP, through small local
// proxies that fail, count requests, or demand credentials.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedRegistry } from "../../src/schemas/embedded-registry.js";
import { createRegistryServer } from "../../src/schemas/registry-http.js";
import { CompatibilityError, RegistryError, RemoteRegistry } from "../../src/schemas/remote-registry.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";

const event = (fields: object[]) =>
  JSON.stringify({ type: "record", name: "CustomerRegistered", namespace: "io.example.customer", fields });
const v1 = event([{ name: "customerId", type: "long" }]);
const v2 = event([
  { name: "customerId", type: "long" },
  { name: "email", type: ["null", "string"], default: null },
]);
const breaking = event([
  { name: "customerId", type: "long" },
  { name: "email", type: "string" },
]);

let store: StateStore;
let app: FastifyInstance;
let upstream: string;
const servers: Server[] = [];

beforeAll(async () => {
  store = await openStateStore("sqlite::memory:");
  app = createRegistryServer(await EmbeddedRegistry.open(store));
  await app.listen({ port: 0, host: "127.0.0.1" });
  upstream = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
  await store.close();
});

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A local HTTP server: `intercept` may answer itself, otherwise the request is proxied upstream. */
async function proxy(intercept: (req: IncomingMessage, res: ServerResponse, n: number) => boolean): Promise<{
  url: string;
  seen: Seen[];
}> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
      if (intercept(req, res, seen.length)) return;
      const headers: Record<string, string> = {};
      if (req.headers["content-type"]) headers["content-type"] = req.headers["content-type"];
      fetch(`${upstream}${req.url ?? "/"}`, {
        method: req.method ?? "GET",
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      })
        .then(async (r) => {
          res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
          res.end(await r.text());
        })
        .catch((err: Error) => {
          res.writeHead(599);
          res.end(err.message);
        });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe("RemoteRegistry", () => {
  it("implements the port against a Confluent-compatible server", async () => {
    const remote = new RemoteRegistry(upstream, { env: {} });
    const a = await remote.register("remote-value", v1);
    expect(a).toMatchObject({ subject: "remote-value", version: 1 });
    expect(JSON.parse(a.schema)).toEqual(JSON.parse(v1));
    const b = await remote.register("remote-value", v2);
    expect(b.version).toBe(2);
    expect(await remote.lookup("remote-value", v1)).toEqual(a);
    expect(await remote.lookup("remote-value", breaking)).toBeNull();
    expect(await remote.lookup("remote-unknown", v1)).toBeNull();
    expect((await remote.latest("remote-value"))?.version).toBe(2);
    expect(await remote.latest("remote-unknown")).toBeNull();
    expect((await remote.versions("remote-value")).map((v) => v.id)).toEqual([a.id, b.id]);
    expect(await remote.versions("remote-unknown")).toEqual([]);
    expect(JSON.parse(await remote.schemaById(b.id))).toEqual(JSON.parse(v2));
    await expect(remote.schemaById(123456)).rejects.toMatchObject({ status: 404, errorCode: 40403 });

    expect(await remote.compatibility("remote-value")).toBe("BACKWARD");
    await remote.setCompatibility("FULL", "remote-value");
    expect(await remote.compatibility("remote-value")).toBe("FULL");
    expect(await remote.compatibility()).toBe("BACKWARD");

    const test = await remote.testCompatibility("remote-value", breaking);
    expect(test.isCompatible).toBe(false);
    expect(test.messages.length).toBeGreaterThan(0);
    expect((await remote.testCompatibility("remote-unknown", breaking)).isCompatible).toBe(true);
  });

  it("turns a 409 into a CompatibilityError naming the subject and the reasons", async () => {
    const remote = new RemoteRegistry(upstream, { env: {} });
    await remote.register("remote-409", v1);
    const err = await remote.register("remote-409", breaking).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompatibilityError);
    const c = err as CompatibilityError;
    expect(c.status).toBe(409);
    expect(c.subject).toBe("remote-409");
    expect(c.message).toContain("remote-409");
    expect(c.reasons.join("\n")).toMatch(/email/);
  });

  it("caches subject+schema → id and id → schema", async () => {
    const { url, seen } = await proxy(() => false);
    const remote = new RemoteRegistry(url, { env: {} });
    const a = await remote.register("cached-value", v1);
    const calls = seen.length;
    expect(await remote.register("cached-value", v1)).toEqual(a);
    expect(await remote.lookup("cached-value", v1)).toEqual(a);
    await remote.schemaById(a.id);
    await remote.schemaById(a.id);
    expect(seen.length).toBe(calls);
  });

  it("retries 5xx with backoff, then succeeds", async () => {
    const { url, seen } = await proxy((_req, res, n) => {
      if (n > 2) return false;
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 50003, message: "unavailable" }));
      return true;
    });
    const remote = new RemoteRegistry(url, { env: {}, retryDelayMs: 5 });
    const registered = await remote.register("retry-value", v1);
    expect(registered.version).toBe(1);
    expect(seen[0]?.url).toBe("/subjects/retry-value/versions");
    expect(seen.slice(0, 3).every((s) => s.url === "/subjects/retry-value/versions")).toBe(true);
  });

  it("gives up after the bounded number of attempts on 5xx", async () => {
    const { url, seen } = await proxy((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 50001, message: "store down" }));
      return true;
    });
    const remote = new RemoteRegistry(url, { env: {}, retryDelayMs: 1, maxAttempts: 5 });
    const err = await remote.schemaById(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ status: 500, errorCode: 50001 });
    // retried because the error says so: a 5xx is REGISTRY_UNAVAILABLE, retriable
    expect((err as RegistryError).code).toBe("REGISTRY_UNAVAILABLE");
    expect((err as RegistryError).retriable).toBe(true);
    expect(seen).toHaveLength(5);
  });

  it("retries network errors", async () => {
    const remote = new RemoteRegistry("http://127.0.0.1:1", { env: {}, retryDelayMs: 1, maxAttempts: 3 });
    await expect(remote.schemaById(1)).rejects.toBeInstanceOf(RegistryError);
  });

  it("decides by the error's `retriable`: no answer is retried up to maxAttempts, as REGISTRY_UNAVAILABLE", async () => {
    let calls = 0;
    const failing: typeof fetch = () => {
      calls++;
      return Promise.reject(new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") }));
    };
    const remote = new RemoteRegistry("http://registry.invalid", {
      env: {},
      retryDelayMs: 1,
      maxAttempts: 3,
      fetch: failing,
    });
    const err = (await remote.schemaById(1).catch((e: unknown) => e)) as RegistryError;
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe("REGISTRY_UNAVAILABLE");
    expect(err.retriable).toBe(true);
    expect(calls).toBe(3);
  });

  it("does not retry 4xx", async () => {
    const { url, seen } = await proxy(() => false);
    const remote = new RemoteRegistry(url, { env: {}, retryDelayMs: 1 });
    const err = (await remote.schemaById(424242).catch((e: unknown) => e)) as RegistryError;
    expect(err).toMatchObject({ status: 404 });
    expect(err.code).toBe("REGISTRY_REJECTED");
    expect(err.retriable).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it("says the registry rejected the credentials on 401 / 403, without retrying", async () => {
    const { url, seen } = await proxy((_req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error_code: 401, message: "Unauthorized" }));
      return true;
    });
    const remote = new RemoteRegistry(url, { env: {} });
    const err = await remote.register("auth-value", v1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(401);
    expect((err as Error).message).toMatch(/registry rejected credentials/);
    expect((err as RegistryError).code).toBe("REGISTRY_AUTH");
    expect((err as RegistryError).retriable).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it("sends basic auth from the environment or the URL, and bearer tokens", async () => {
    const { url, seen } = await proxy(() => false);
    await new RemoteRegistry(url, {
      env: { SCHEMA_REGISTRY_USERNAME: "alice", SCHEMA_REGISTRY_PASSWORD: "s3cret" },
    }).compatibility();
    expect(seen.at(-1)?.authorization).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`);

    const withUserinfo = url.replace("http://", "http://bob:p%40ss@");
    const remote = new RemoteRegistry(withUserinfo, { env: {} });
    expect(remote.baseUrl).toBe(url);
    await remote.compatibility();
    expect(seen.at(-1)?.authorization).toBe(`Basic ${Buffer.from("bob:p@ss").toString("base64")}`);

    await new RemoteRegistry(url, { env: { SCHEMA_REGISTRY_TOKEN: "tok" } }).compatibility();
    expect(seen.at(-1)?.authorization).toBe("Bearer tok");

    await new RemoteRegistry(url, { env: {} }).compatibility();
    expect(seen.at(-1)?.authorization).toBeUndefined();
  });
});
