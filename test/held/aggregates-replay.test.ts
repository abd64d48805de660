// Transaction aggregates through `changecast replay`: an order and its lines written in one transaction are one
// OrderPlaced, published once the END record and every counted change have been read (in any order); a
// transaction still incomplete after source.transactionTimeout (or at the end of the input) is published partial.
import { describe, expect, it } from "vitest";
import { crmProject, heartbeatLine, line, order, replay, txLine, type Printed } from "./support.js";

const placed = (out: Printed[]) => out.filter((r) => r.topic === "order-events");
const END = (txId: number, lsn: number, orders: number, lines: number, ts = 2_000_000) =>
  txLine(txId, lsn, ts, { "inventory.orders": orders, "inventory.order_lines": lines });

describe("transaction aggregates (replay)", () => {
  it("publishes one event per root row with its member lines once the transaction is complete", async () => {
    const dir = crmProject();
    const { out, err } = await replay(dir, [
      txLine(500, 10, 2_000_000, null),
      order(1, 500, 11),
      line(1, 1, 500, 12),
      line(2, 1, 500, 13),
      END(500, 14, 1, 2),
    ]);
    const events = placed(out);
    expect(events).toHaveLength(1);
    expect(events[0]?.key).toBe("1");
    expect(events[0]?.value).toEqual({
      orderId: 1,
      txId: "500:14",
      lines: [
        { productId: 101, quantity: 1 },
        { productId: 102, quantity: 2 },
      ],
    });
    expect(events[0]?.headers.changecast_partial).toBeUndefined();
    expect(events[0]?.headers.ce_time).toBe(new Date(2_000_000).toISOString());
    expect(err.join("\n")).toContain("aggregates: 1 published (0 partial)");
  });

  it("END before its data, interleaved transactions, two roots in one transaction", async () => {
    const dir = crmProject();
    const { out } = await replay(dir, [
      END(600, 30, 2, 3), // END read first (another topic)
      order(1, 600, 21),
      order(2, 601, 22),
      line(5, 2, 601, 23),
      END(601, 31, 1, 1), // 601 complete here
      line(1, 1, 600, 24),
      order(3, 600, 25),
      line(2, 3, 600, 26),
      line(3, 1, 600, 27), // 600 complete here
    ]);
    const events = placed(out).map((r) => [r.key, (r.value?.lines as unknown[]).length]);
    expect(events).toEqual([
      ["2", 1],
      ["1", 2],
      ["3", 1],
    ]);
  });

  it("same ce_id for the same transaction and root whatever the arrival order", async () => {
    const a = await replay(crmProject(), [order(1, 700, 41), line(1, 1, 700, 42), END(700, 43, 1, 1)]);
    const b = await replay(crmProject(), [END(700, 43, 1, 1), line(1, 1, 700, 42), order(1, 700, 41)]);
    expect(placed(a.out)[0]?.headers.ce_id).toBe(placed(b.out)[0]?.headers.ce_id);
    expect(placed(a.out)[0]?.headers.ce_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8/);
  });

  it("a transaction incomplete after source.transactionTimeout is published partial (heartbeat time)", async () => {
    const dir = crmProject({ config: ["  transactionTimeout: 30s"] });
    const { out, err } = await replay(dir, [
      order(1, 800, 51, 2_000_000),
      line(1, 1, 800, 52, 2_000_000),
      END(800, 54, 1, 2), // a second line is counted but never arrives
      heartbeatLine(2_010_000, 1),
      heartbeatLine(2_031_000, 2),
      order(9, 801, 60, 2_040_000),
    ]);
    const events = placed(out);
    expect(events).toHaveLength(2);
    expect(events[0]?.key).toBe("1");
    expect(events[0]?.headers.changecast_partial).toBe("true");
    expect((events[0]?.value?.lines as unknown[]).length).toBe(1);
    // order 9 never got its END: partial at the end of the input
    expect(events[1]?.key).toBe("9");
    expect(events[1]?.headers.changecast_partial).toBe("true");
    expect(err.join("\n")).toContain("aggregates: 2 published (2 partial)");
  });

  it("a root that comes after its transaction timed out is published alone, partial, once", async () => {
    const dir = crmProject({ config: ["  transactionTimeout: 30s"] });
    const { out } = await replay(dir, [
      line(1, 1, 990, 91, 2_000_000),
      END(990, 93, 1, 1),
      heartbeatLine(2_040_000, 1), // times out: only a line arrived, nothing to publish
      order(1, 990, 90, 2_000_000), // late
      order(1, 990, 90, 2_000_000), // and delivered again
    ]);
    const events = placed(out);
    expect(events).toHaveLength(1);
    expect(events[0]?.headers.changecast_partial).toBe("true");
    expect(events[0]?.value).toMatchObject({ orderId: 1, txId: "990:90", lines: [] });
  });

  it("an evaluated transaction is remembered for ten transaction timeouts of source time, as in run", async () => {
    const dir = crmProject({ config: ["  transactionTimeout: 30s"] });
    const { out } = await replay(dir, [
      order(1, 990, 90, 2_000_000),
      line(1, 1, 990, 91, 2_000_000),
      END(990, 93, 1, 1),
      heartbeatLine(2_000_000 + 9 * 30_000, 1),
      order(1, 990, 90, 2_000_000), // redelivered within ten timeouts: a root already published
      heartbeatLine(2_000_000 + 11 * 30_000, 2),
      order(1, 990, 90, 2_000_000), // after them: the transaction is forgotten, a new one that never completes
    ]);
    const events = placed(out);
    expect(events.map((e) => e.headers.changecast_partial ?? "complete")).toEqual(["complete", "true"]);
    expect(events[1]?.value).toMatchObject({ orderId: 1, txId: "990:90", lines: [] });
  });

  it("a root snapshot row is evaluated alone with empty member lists", async () => {
    const dir = crmProject();
    const { out } = await replay(dir, [order(4, 1, 70, 2_000_000, "r")]);
    expect(placed(out).map((r) => r.value)).toEqual([{ orderId: 4, txId: "", lines: [] }]);
  });
});
