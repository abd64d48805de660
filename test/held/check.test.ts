// `changecast check` of requires: and aggregate files: each mistake at its file and line, the valid project ok.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/check.js";
import { crmProject } from "./support.js";

function check(dir: string): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = checkCommand(
    { config: join(dir, "changecast.yaml") },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out, err };
}

describe("changecast check: requires and aggregates", () => {
  it("accepts the valid declarations", () => {
    const { code, out } = check(crmProject());
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^ok: 3 transform files/);
  });

  it("names each problem of a requires entry at its line", () => {
    const dir = crmProject({
      requires: [
        "  - table: crm.addresses", // no state: rows
        "    key: after.address_id",
        "  - table: crm.persons",
        "    key: after.person_id +", // does not compile
        "    timeout: soon", // not a duration
        "    onTimeout: retry", // not a choice
        "    wait: true", // unknown key
      ],
    });
    const { code, err } = check(dir);
    expect(code).toBe(1);
    const text = err.join("\n");
    expect(text).toMatch(/phones\.yaml:3: requires: parent table crm\.addresses must declare `state: rows`/);
    expect(text).toMatch(/phones\.yaml:6: requires\[1\]\.key: expression does not compile/);
    expect(text).toMatch(/phones\.yaml:7: requires\[1\]\.timeout: "soon" is not a duration/);
    expect(text).toMatch(
      /phones\.yaml:8: requires\[1\]\.onTimeout: "retry" is not one of dead-letter, publish/,
    );
    expect(text).toMatch(/phones\.yaml:9: unknown key "wait" in requires\[1\]/);
  });

  it("names the problems of an aggregate file", () => {
    const dir = crmProject({
      aggregate: [
        "aggregate: inventory.orders",
        "members:",
        "  root:", // reserved
        "    table: inventory.order_lines",
        "    match: 'true'",
        "  lines:",
        "    table: inventory.order_lines",
        "    match: line.after.order_id == root.after.id", // unknown variable
        "events:",
        "  - name: OrderPlaced",
        "    schema: schemas/OrderPlaced.avsc",
        "    topic: order-events",
        "    key: after.id", // a change's variable, not an aggregate's
        "    fields:",
        "      orderId: root.after.id",
        "      txId: tx.id",
        "      lines: '[]'",
      ],
    });
    writeFileSync(
      join(dir, "changecast.yaml"),
      ["pipeline: held", "source:", "  topicPrefix: dbserver1", "transforms:", "  - transforms/*.yaml"].join(
        "\n",
      ),
    );
    const { code, err } = check(dir);
    expect(code).toBe(1);
    const text = err.join("\n");
    expect(text).toMatch(/order-placed\.yaml:3: members: "root" must be a variable name/);
    expect(text).toMatch(
      /order-placed\.yaml:8: members\.lines\.match: unknown variable "line" \(available: member, root\)/,
    );
    expect(text).toMatch(
      /order-placed\.yaml:\d+: key: unknown variable "after" \(available: root, tx, lines\)/,
    );
    expect(text).toMatch(/order-placed\.yaml:1: aggregate files need source\.transactionTopic/);
  });
});
