// `changecast connectors apply|status` against a local HTTP server standing in for Kafka Connect's REST API:
// basic auth from the URL or the environment, and no credential in any output line.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectorsCommand } from "../../src/cli/connectors.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((done) => s.close(done));
});

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** Kafka Connect's REST API, as far as apply and status use it; 401 unless the expected credentials come. */
async function kafkaConnect(expected: string | undefined): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const deployed = new Set<string>();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (expected !== undefined && req.headers.authorization !== expected)
        return send(401, { error_code: 401, message: "Unauthorized" });
      const m = /^\/connectors\/([^/]+)\/(config|status)$/.exec(req.url ?? "");
      if (!m) return send(404, { error_code: 404, message: "not found" });
      const name = decodeURIComponent(m[1]!);
      if (m[2] === "config" && req.method === "PUT") {
        const created = !deployed.has(name);
        deployed.add(name);
        return send(created ? 201 : 200, { name });
      }
      if (!deployed.has(name)) return send(404, { error_code: 404, message: `Connector ${name} not found` });
      return send(200, { name, connector: { state: "RUNNING" }, tasks: [{ id: 0, state: "RUNNING" }] });
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { port: (server.address() as AddressInfo).port, seen };
}

function connectorsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-connectors-"));
  writeFileSync(
    join(dir, "inventory.json"),
    JSON.stringify({
      name: "inventory",
      config: { "connector.class": "io.debezium.connector.postgresql.PostgresConnector" },
    }),
  );
  return dir;
}

async function connectors(
  action: "apply" | "status",
  connectUrl: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await connectorsCommand(action, { dir: connectorsDir(), connectUrl, env }, io);
  return { code, lines };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const PASSWORD = "c0nn/ect+p#ss";

describe("connectors against a Kafka Connect with basic auth", () => {
  it("sends the credentials of the URL (raw special characters or percent-encoded) as basic auth", async () => {
    const { port, seen } = await kafkaConnect(basic("connect", PASSWORD));
    for (const written of [PASSWORD, encodeURIComponent(PASSWORD)]) {
      const url = `http://connect:${written}@127.0.0.1:${port}`;
      const applied = await connectors("apply", url);
      expect(applied.code, applied.lines.join("\n")).toBe(0);
      const status = await connectors("status", url);
      expect(status.lines).toEqual(["inventory: RUNNING (task 0 RUNNING)"]);
    }
    expect(seen.map((s) => s.authorization)).toEqual(Array(4).fill(basic("connect", PASSWORD)));
  });

  it("takes KAFKA_CONNECT_USERNAME / KAFKA_CONNECT_PASSWORD from the environment", async () => {
    const { port, seen } = await kafkaConnect(basic("ops", PASSWORD));
    const env = { KAFKA_CONNECT_USERNAME: "ops", KAFKA_CONNECT_PASSWORD: PASSWORD };
    const applied = await connectors("apply", `http://127.0.0.1:${port}/`, env);
    expect(applied.lines).toEqual([expect.stringMatching(/^inventory: created \(.*inventory\.json\)$/)]);
    expect(seen[0]?.url).toBe("/connectors/inventory/config");
  });

  it("a rejection or an unreachable Connect names the URL without the password", async () => {
    const { port } = await kafkaConnect(basic("connect", "right"));
    const rejected = await connectors("apply", `http://connect:${PASSWORD}@127.0.0.1:${port}`);
    expect(rejected.code).toBe(1);
    expect(rejected.lines.join("\n")).toContain(`HTTP 401`);
    expect(rejected.lines.join("\n")).toContain(`(Kafka Connect at http://127.0.0.1:${port})`);

    const closed = await kafkaConnect(undefined);
    await new Promise((done) => servers.pop()!.close(done));
    const unreachable = await connectors("status", `http://connect:${PASSWORD}@127.0.0.1:${closed.port}`, {
      KAFKA_CONNECT_PASSWORD: "env-s3cret",
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.lines.join("\n")).toContain(`(Kafka Connect at http://127.0.0.1:${closed.port})`);
    for (const out of [rejected, unreachable]) {
      const text = out.lines.join("\n");
      expect(text).not.toContain("c0nn");
      expect(text).not.toContain("s3cret");
    }
  });
});
