// `changecast registry serve [--port 8081]`: the embedded Confluent-compatible Schema Registry, kept in
// the state store, served over HTTP for Kafka clients, Kafka Connect converters and the Confluent CLI.
import { destination, pino } from "pino";
import { openStateStore } from "../state/store.js";
import { EmbeddedRegistry } from "../schemas/embedded-registry.js";
import { createRegistryServer } from "../schemas/registry-http.js";

export interface RegistryServeOptions {
  port: number;
  /** default 127.0.0.1; 0.0.0.0 to serve other hosts (containers) */
  host?: string;
  /** the state store URL (sqlite:<file> or postgres://…) */
  stateUrl: string;
  /** directory relative sqlite paths resolve against */
  baseDir: string;
}

export async function runRegistryServe(
  opts: RegistryServeOptions,
): Promise<{ close(): Promise<void>; url: string }> {
  const log = pino({ name: "changecast-registry" }, destination(2));
  const store = await openStateStore(opts.stateUrl, opts.baseDir);
  let server: ReturnType<typeof createRegistryServer> | undefined;
  try {
    const registry = await EmbeddedRegistry.open(store);
    server = createRegistryServer(registry);
    const host = opts.host ?? "127.0.0.1";
    await server.listen({ port: opts.port, host });
    const address = server.server.address();
    const port = typeof address === "object" && address ? address.port : opts.port;
    const shownHost =
      host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
    const url = `http://${shownHost}:${port}`;
    log.info({ url, state: store.location }, `schema registry listening on ${url}`);
    const app = server;
    let closed = false;
    return {
      url,
      async close() {
        if (closed) return;
        closed = true;
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await server?.close().catch(() => undefined);
    await store.close();
    throw err;
  }
}
