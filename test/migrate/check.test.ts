// `changecast check` validates the majors of an event like events, with file:line.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/check.js";
import { migrationProject, TRANSFORM } from "./harness.js";

function check(transform: string): { code: number; err: string[]; out: string[] } {
  const p = migrationProject();
  writeFileSync(join(p.dir, "transforms", "customers.yaml"), transform);
  const out: string[] = [];
  const err: string[] = [];
  const code = checkCommand({ config: p.config }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("check: majors", () => {
  it("accepts the worked example (each major counts as an event)", () => {
    const r = check(TRANSFORM);
    expect(r.err).toEqual([]);
    expect(r.out[0]).toContain("3 events");
  });

  it("rejects a field missing from the major's schema, with its line", () => {
    const bad = TRANSFORM.replace(
      "          customerId: string(after.id)",
      "          customerId: string(after.id)\n          fullName: after.first_name",
    );
    const r = check(bad);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(
      new RegExp(`customers\\.yaml:${lineOf(bad, "          fullName")}: field "fullName" is not in schema`),
    );
  });

  it("rejects a bad major label, an unknown key and a shared topic", () => {
    const bad = TRANSFORM.replace(
      "      2:\n",
      "      one:\n        schema: x\n      2:\n        partitions: 3\n        topic: inventory.customer-events\n",
    );
    const r = check(bad);
    expect(r.code).toBe(1);
    const text = r.err.join("\n");
    expect(text).toContain(`:${lineOf(bad, "one:")}: majors: "one" must be an integer major version`);
    expect(text).toContain(`:${lineOf(bad, "partitions: 3")}: unknown key "partitions" in majors.2`);
    expect(text).toContain(`each major needs its own topic`);
  });

  it("rejects a major whose mapping does not compile", () => {
    const bad = TRANSFORM.replace("customerId: string(after.id)", "customerId: string(after.id");
    const r = check(bad);
    expect(r.code).toBe(1);
    expect(r.err[0]).toContain(`:${lineOf(bad, "string(after.id")}: field "customerId"`);
  });
});
