// `schemas plan` / `schemas apply`: statuses per subject against the embedded registry.
import { afterEach, describe, expect, it } from "vitest";
import { EmbeddedRegistry } from "../../src/schemas/embedded-registry.js";
import { applySchemas, formatPlan, planSchemas } from "../../src/schemas/schema-plan.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";

const customer = (fields: object[]) =>
  JSON.stringify({ type: "record", name: "Customer", namespace: "io.example", fields });
const v1 = customer([{ name: "id", type: "long" }]);
const v2 = customer([
  { name: "id", type: "long" },
  { name: "email", type: ["null", "string"], default: null },
]);
const breaking = customer([{ name: "id", type: "string" }]);

let store: StateStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function registry(): Promise<EmbeddedRegistry> {
  store = await openStateStore("sqlite::memory:");
  const r = await EmbeddedRegistry.open(store);
  await r.register("same", v1);
  await r.register("evolve", v1);
  await r.register("break", v1);
  return r;
}

const desired = [
  { subject: "same", schema: v1, origin: "schemas/same.avsc" },
  { subject: "fresh", schema: v1, origin: "schemas/fresh.avsc" },
  { subject: "evolve", schema: v2, origin: "schemas/evolve.avsc" },
  { subject: "break", schema: breaking, origin: "schemas/break.avsc" },
];

describe("planSchemas / applySchemas / formatPlan", () => {
  it("classifies unchanged, new subject, compatible and incompatible", async () => {
    const r = await registry();
    const plan = await planSchemas(r, desired, "FULL");
    expect(plan.map((e) => [e.subject, e.status, e.version])).toEqual([
      ["same", "unchanged", 1],
      ["fresh", "new-subject", 1],
      ["evolve", "compatible", 2],
      ["break", "incompatible", undefined],
    ]);
    const bad = plan[3];
    expect(bad?.origin).toBe("schemas/break.avsc");
    expect(bad?.messages.length).toBeGreaterThan(0);
    expect(bad?.messages.join("\n")).toMatch(/id/);
  });

  it("applies all but the incompatible ones, setting the level on new subjects", async () => {
    const r = await registry();
    const plan = await planSchemas(r, desired, "FULL");
    const applied = await applySchemas(r, plan, desired, "FULL");
    expect(applied.map((a) => [a.subject, a.version, a.created])).toEqual([
      ["same", 1, false],
      ["fresh", 1, true],
      ["evolve", 2, true],
    ]);
    expect(applied[1]?.id).toBe(applied[0]?.id);
    expect(await r.compatibility("fresh")).toBe("FULL");
    expect((await r.versions("break")).length).toBe(1);
    const again = await planSchemas(r, desired.slice(0, 3));
    expect(again.every((e) => e.status === "unchanged")).toBe(true);
  });

  it("formats one line per subject, reasons and the migration hint for incompatible ones", async () => {
    const r = await registry();
    const text = formatPlan(await planSchemas(r, desired));
    expect(text).toMatch(/unchanged\s+same\s+version 1/);
    expect(text).toMatch(/new subject\s+fresh\s+→ version 1/);
    expect(text).toMatch(/compatible\s+evolve\s+→ version 2/);
    expect(text).toMatch(/INCOMPATIBLE\s+break/);
    expect(text).toContain("changecast migrate plan");
    expect(text).toContain("1 unchanged, 1 new, 1 compatible, 1 incompatible");
  });
});
