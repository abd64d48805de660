// `changecast registry serve`: the embedded registry on a port, over a SQLite state file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRegistryServe } from "../../src/cli/registry-serve.js";

const dir = mkdtempSync(join(tmpdir(), "changecast-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runRegistryServe", () => {
  it("serves the registry and keeps its data across restarts", async () => {
    const schema = JSON.stringify({ type: "record", name: "A", fields: [{ name: "a", type: "int" }] });
    const first = await runRegistryServe({ port: 0, stateUrl: "sqlite:state.sqlite", baseDir: dir });
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${first.url}/subjects/a-value/versions`, {
      method: "POST",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ schema }),
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    await first.close();

    const second = await runRegistryServe({ port: 0, stateUrl: "sqlite:state.sqlite", baseDir: dir });
    try {
      expect(await (await fetch(`${second.url}/subjects`)).json()).toEqual(["a-value"]);
      const byId = (await (await fetch(`${second.url}/schemas/ids/${id}`)).json()) as { schema: string };
      expect(JSON.parse(byId.schema)).toEqual(JSON.parse(schema));
    } finally {
      await second.close();
    }
  });
});
