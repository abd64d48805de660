// `changecast connectors apply|status`: Debezium connector configs from connectors/ into Kafka Connect (REST).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { globSync } from "tinyglobby";
import type { CommandIO } from "./io.js";

interface ConnectorFile {
  name: string;
  config: Record<string, string>;
}

export function readConnectorFiles(dir: string): { file: string; connector: ConnectorFile }[] {
  return globSync("*.json", { cwd: dir, absolute: true })
    .sort()
    .map((file) => {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<ConnectorFile>;
      if (!parsed.name || !parsed.config) throw new Error(`${file}: expected {"name": …, "config": {…}}`);
      return { file, connector: { name: parsed.name, config: parsed.config } };
    });
}

async function connectRequest(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", accept: "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: res.status, json };
}

export async function connectorsCommand(
  action: "apply" | "status",
  opts: { dir: string; connectUrl: string },
  io: CommandIO,
): Promise<number> {
  const base = opts.connectUrl.replace(/\/$/, "");
  let failures = 0;
  for (const { file, connector } of readConnectorFiles(resolve(opts.dir))) {
    const name = encodeURIComponent(connector.name);
    try {
      if (action === "apply") {
        // PUT …/config creates or updates: idempotent
        const res = await connectRequest(`${base}/connectors/${name}/config`, "PUT", connector.config);
        if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.json)}`);
        io.out(`${connector.name}: ${res.status === 201 ? "created" : "updated"} (${file})`);
      } else {
        const res = await connectRequest(`${base}/connectors/${name}/status`, "GET");
        if (res.status === 404) {
          io.out(`${connector.name}: NOT DEPLOYED`);
          failures++;
          continue;
        }
        const status = res.json as {
          connector?: { state?: string };
          tasks?: { id: number; state: string; trace?: string }[];
        };
        const tasks = (status.tasks ?? []).map((t) => `task ${t.id} ${t.state}`).join(", ");
        io.out(`${connector.name}: ${status.connector?.state ?? "UNKNOWN"}${tasks ? ` (${tasks})` : ""}`);
        if (status.connector?.state !== "RUNNING" || (status.tasks ?? []).some((t) => t.state !== "RUNNING"))
          failures++;
      }
    } catch (err) {
      io.err(`${connector.name}: ${(err as Error).message} (Kafka Connect at ${base})`);
      failures++;
    }
  }
  return failures ? 1 : 0;
}
