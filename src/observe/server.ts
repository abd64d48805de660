// The operations endpoint of a long-running command (docs/operations.md, "Endpoints"): GET /metrics (Prometheus
// text format), /healthz (liveness) and /readyz (readiness). node:http and nothing else: it must stay up and
// answer fast whatever the worker is doing, and any command can serve its own registry and probes with it
// (`run` serves the worker's; a sink command passes its own counters).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { ProbeResult } from "./health.js";

export interface OpsServerOptions {
  /** 0: any free port (tests) */
  port: number;
  host: string;
  /** the metrics to serve at /metrics */
  registry: Registry;
  /** /healthz: absent means always live */
  liveness?: () => ProbeResult;
  /** /readyz: absent means always ready */
  readiness?: () => ProbeResult;
}

export interface OpsServer {
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

const ALWAYS: () => ProbeResult = () => ({ ok: true, detail: {} });

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const liveness = options.liveness ?? ALWAYS;
  const readiness = options.readiness ?? ALWAYS;
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`error: ${(err as Error).message}\n`);
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    switch (path) {
      case "/metrics": {
        const body = await options.registry.metrics();
        res.writeHead(200, { "content-type": options.registry.contentType });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      }
      case "/healthz":
      case "/livez":
        return probe(res, req.method, liveness());
      case "/readyz":
        return probe(res, req.method, readiness());
      default:
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found: /metrics, /healthz, /readyz\n");
    }
  }
  // probes must never queue behind a slow client
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function probe(res: ServerResponse, method: string | undefined, result: ProbeResult): void {
  res.writeHead(result.ok ? 200 : 503, { "content-type": "application/json" });
  res.end(
    method === "HEAD"
      ? undefined
      : JSON.stringify({ status: result.ok ? "ok" : "fail", ...result.detail }) + "\n",
  );
}
