// schemas plan / apply and `run` against the registry: compatible changes register a new version,
// incompatible ones are named and stop `run` before anything is published.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../src/cli/run.js";
import { schemasCommand } from "../../src/cli/schemas.js";
import { fixtureLine, tempProject } from "../support/project.js";

const v1 = {
  type: "record",
  name: "CustomerRegistered",
  namespace: "io.test",
  fields: [
    { name: "customerId", type: "long" },
    { name: "email", type: "string" },
  ],
};

function project(): string {
  return tempProject({
    "changecast.yaml": [
      "pipeline: lifecycle",
      "source: { connector: postgres, topicPrefix: dbserver1, files: [in.jsonl] }",
      "registry: { compatibility: BACKWARD }",
      "transforms: [t.yaml]",
    ].join("\n"),
    "s.avsc": v1,
    "t.yaml": [
      "table: inventory.customers",
      "events:",
      "  - name: CustomerRegistered",
      "    schema: s.avsc",
      "    topic: customers",
      '    when: op == "c"',
      "    key: after.id",
      "    fields: { customerId: after.id, email: after.email }",
    ].join("\n"),
    "in.jsonl": fixtureLine("postgres", "05-create") + "\n",
  });
}

async function cmd(f: (io: { out(l: string): void; err(l: string): void }) => Promise<number>) {
  const out: string[] = [];
  const code = await f({ out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, text: out.join("\n") };
}

describe("schema lifecycle", () => {
  it("plan → apply → compatible change → incompatible change refused by plan and run", async () => {
    const dir = project();
    const config = join(dir, "changecast.yaml");

    const plan1 = await cmd((io) => schemasCommand("plan", { config }, io));
    expect(plan1.code).toBe(0);
    expect(plan1.text).toMatch(/customers-io\.test\.CustomerRegistered\s+→ version 1/);

    const apply1 = await cmd((io) => schemasCommand("apply", { config }, io));
    expect(apply1.code).toBe(0);
    const plan2 = await cmd((io) => schemasCommand("plan", { config }, io));
    expect(plan2.text).toMatch(/unchanged\s+customers-io\.test\.CustomerRegistered\s+version 1/);

    // adding an optional field with a default is BACKWARD compatible: version 2
    const v2 = { ...v1, fields: [...v1.fields, { name: "note", type: ["null", "string"], default: null }] };
    writeFileSync(join(dir, "s.avsc"), JSON.stringify(v2));
    const plan3 = await cmd((io) => schemasCommand("plan", { config }, io));
    expect(plan3.code).toBe(0);
    expect(plan3.text).toMatch(/compatible\s+customers-io\.test\.CustomerRegistered\s+→ version 2/);
    const run1 = await cmd((io) => runCommand({ config }, io));
    expect(run1.code).toBe(0);
    const published = readFileSync(join(dir, ".changecast", "out", "customers.jsonl"), "utf8");
    expect(JSON.parse(published.split("\n")[0]!)).toMatchObject({
      version: 2,
      value: { customerId: 1005, note: null },
    });

    // a new required field without default is not BACKWARD compatible
    const v3 = { ...v1, fields: [...v2.fields, { name: "tier", type: "string" }] };
    writeFileSync(join(dir, "s.avsc"), JSON.stringify(v3));
    writeFileSync(
      join(dir, "t.yaml"),
      readFileSync(join(dir, "t.yaml"), "utf8").replace(
        "email: after.email",
        "email: after.email, tier: '\"gold\"'",
      ),
    );
    const plan4 = await cmd((io) => schemasCommand("plan", { config }, io));
    expect(plan4.code).toBe(1);
    expect(plan4.text).toMatch(/INCOMPATIBLE/i);
    expect(plan4.text).toMatch(/tier/);
    expect(plan4.text).toMatch(/changecast migrate plan/);
    await expect(cmd((io) => runCommand({ config }, io))).rejects.toThrow(
      /s\.avsc is INCOMPATIBLE with subject "customers-io\.test\.CustomerRegistered" under BACKWARD[\s\S]*tier/,
    );
  });
});
