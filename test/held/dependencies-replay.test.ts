// `requires:` through `changecast replay`: children before their parent are parked and released when it arrives,
// in source order per child key; a later change of a parked key waits behind it; timeouts in source time
// (heartbeats included) and at the end of the input; the summary counts each parked record once.
import { describe, expect, it } from "vitest";
import { crmProject, heartbeatLine, person, phone, replay } from "./support.js";

describe("requires: parent before child (replay)", () => {
  it("parks a phone until its person arrives, then publishes it after the person, seeing the person", async () => {
    const dir = crmProject();
    const { code, out, err } = await replay(dir, [
      phone(1, 10, 100),
      phone(2, 11, 101),
      person(10, "Ada", 102),
    ]);
    expect(code).toBe(0);
    expect(out.map((r) => [r.topic, r.key])).toEqual([
      ["persons", "10"],
      ["phones", "1"],
      // phone 2's person never came: dead-lettered at the end of the input (onTimeout: dead-letter)
      ["changecast.held.dlq", '{"id":2}'],
    ]);
    expect(out[1]?.value).toMatchObject({ id: 1, op: "c", personName: "Ada" });
    expect(out[2]?.headers["changecast_error_code"]).toBe("MAP_DEPENDENCY_TIMEOUT");
    expect(out[2]?.headers["__connect.errors.exception.message"]).toContain('crm.persons key ["11"]');
    expect(err.join("\n")).toContain("held (requires): 2 parked, 1 released, 1 timed out");
    expect(err.join("\n")).toContain("reconciliation: 3 records in = 2 mapped");
  });

  it("keeps a child key's changes in source order: a later change waits behind the parked one", async () => {
    const dir = crmProject();
    const { out } = await replay(dir, [
      phone(1, 10, 100),
      phone(1, 10, 101, "u"),
      phone(1, 10, 102, "d"), // deletes do not wait for the parent (default when), but wait behind the key
      phone(2, 12, 103), // another key is not blocked: its parent is there
      person(12, "Bob", 90, 1_000_090),
      person(10, "Ada", 104),
    ]);
    expect(out.map((r) => `${r.topic}:${r.key}:${String(r.value?.op ?? "")}`)).toEqual([
      "persons:12:",
      "phones:2:c",
      "persons:10:",
      "phones:1:c",
      "phones:1:u",
      "phones:1:d",
    ]);
  });

  it("times out in source time: a heartbeat later by the timeout publishes (onTimeout: publish)", async () => {
    const dir = crmProject({
      requires: [
        "  - table: crm.persons",
        "    key: after.person_id",
        "    timeout: 1m",
        "    onTimeout: publish",
      ],
    });
    const { out, err } = await replay(dir, [
      phone(1, 10, 100, "c", 1_000_000),
      heartbeatLine(1_030_000, 1),
      heartbeatLine(1_060_000, 2),
      person(10, "Ada", 103, 1_070_000),
    ]);
    // published without its parent at the second heartbeat (60 s later), so before the person
    expect(out.map((r) => [r.topic, r.key])).toEqual([
      ["phones", "1"],
      ["persons", "10"],
    ]);
    expect(out[0]?.value).toMatchObject({ id: 1, personName: "?" });
    expect(err.join("\n")).toContain("0 released, 1 timed out");
  });
});
