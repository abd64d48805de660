// The layer rule of eslint.config.js (docs/architecture.md): an import that points upstream passes, one that
// points downstream (a wrong-way import) fails `npm run lint`. Each case lints a one-line file as if it were
// at the given path in src/, so nothing is written to the tree.
import { join } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const eslint = new ESLint({ cwd: ROOT });

async function layerProblems(file: string, from: string): Promise<string[]> {
  const code = `import * as other from "${from}";\nexport const used = other;\n`;
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("layer rule", () => {
  it.each([
    ["src/decode/wrong-way.ts", "../encode/index.js"],
    ["src/config/wrong-way.ts", "../schemas/registry.js"],
    ["src/map/wrong-way.ts", "../publish/event-id.js"],
    ["src/state/migrations/wrong-way.ts", "../../migrate/state.js"],
    ["src/publish/wrong-way.ts", "../kafka/kafka-client.js"],
    ["src/kafka/wrong-way.ts", "../embedded/embedded-transport.js"],
    ["src/worker/wrong-way.ts", "../migrate/index.js"],
    ["src/worker/wrong-way.ts", "../observe/metrics.js"],
    ["src/observe/wrong-way.ts", "../migrate/index.js"],
    ["src/migrate/wrong-way.ts", "../cli/io.js"],
    ["src/avro/wrong-way.ts", "../decode/change-event.js"],
    ["src/errors.ts", "./config/env.js"],
  ])("%s importing %s fails", async (file, from) => {
    const problems = await layerProblems(file, from);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("docs/architecture.md");
  });

  it.each([
    ["src/cli/right-way.ts", "../migrate/index.js"],
    ["src/migrate/right-way.ts", "../kafka/kafka-client.js"],
    ["src/observe/right-way.ts", "../worker/observer.js"],
    ["src/cli/right-way.ts", "../observe/server.js"],
    ["src/encode/right-way.ts", "../decode/change-event.js"],
    ["src/decode/right-way.ts", "../avro/wire.js"],
    ["src/schemas/right-way.ts", "../state/migrations/registry.js"],
    ["src/embedded/right-way.ts", "../publish/transport.js"],
    ["src/state/right-way.ts", "../errors.js"],
  ])("%s importing %s passes", async (file, from) => {
    expect(await layerProblems(file, from)).toEqual([]);
  });
});
