// `changecast connectors apply|status`: Debezium connector configs from connectors/ into Kafka Connect (REST).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { globSync } from "tinyglobby";
import { envText } from "../config/env.js";
import { redactText, splitUrlCredentials } from "../config/redact.js";
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
  authorization: string | undefined,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method,
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(authorization ? { authorization } : {}),
    },
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

/**
 * Kafka Connect's URL without credentials, and the basic auth header: KAFKA_CONNECT_USERNAME /
 * KAFKA_CONNECT_PASSWORD, else the URL's userinfo (fetch refuses URLs with credentials, quoting them).
 */
export function connectEndpoint(
  connectUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): { base: string; authorization: string | undefined; secrets: (string | undefined)[] } {
  const split = splitUrlCredentials(
    connectUrl || envText(env, "KAFKA_CONNECT_URL") || "http://localhost:8083",
    "Kafka Connect URL",
  );
  const username = envText(env, "KAFKA_CONNECT_USERNAME") ?? split.username;
  const password = envText(env, "KAFKA_CONNECT_PASSWORD") ?? split.password;
  return {
    base: split.url,
    authorization:
      username !== undefined
        ? `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`
        : undefined,
    secrets: [split.password, envText(env, "KAFKA_CONNECT_PASSWORD")],
  };
}

export async function connectorsCommand(
  action: "apply" | "status",
  opts: { dir: string; connectUrl?: string; env?: NodeJS.ProcessEnv },
  io: CommandIO,
): Promise<number> {
  const { base, authorization, secrets } = connectEndpoint(opts.connectUrl, opts.env ?? process.env);
  let failures = 0;
  for (const { file, connector } of readConnectorFiles(resolve(opts.dir))) {
    const name = encodeURIComponent(connector.name);
    try {
      if (action === "apply") {
        // PUT …/config creates or updates: idempotent
        const res = await connectRequest(
          `${base}/connectors/${name}/config`,
          "PUT",
          authorization,
          connector.config,
        );
        if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.json)}`);
        io.out(`${connector.name}: ${res.status === 201 ? "created" : "updated"} (${file})`);
      } else {
        const res = await connectRequest(`${base}/connectors/${name}/status`, "GET", authorization);
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
      // Connect's answers and fetch's errors may quote URLs or configured secrets
      const configSecrets = Object.entries(connector.config)
        .filter(([key]) => /password|secret|token|credential|key$/i.test(key))
        .map(([, value]) => String(value));
      const cause = (err as { cause?: Error }).cause;
      const message = `${(err as Error).message}${cause ? ` (${cause.message})` : ""}`;
      io.err(
        `${connector.name}: ${redactText(message, [...secrets, ...configSecrets])} (Kafka Connect at ${base})`,
      );
      failures++;
    }
  }
  return failures ? 1 : 0;
}
