// Exactly once into Postgres under kill -9: the example's published events (embedded run) projected by
// `changecast sink` as a child process, killed with SIGKILL at random moments at least ten times and restarted
// each time, then run to the end. Every row equals the model, including `changecast_applied`, the number of
// events applied to it: an event applied twice, or one missed, would show there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import {
  cli,
  connect,
  exampleProject,
  exampleViews,
  exited,
  model,
  outputViews,
  spawnCli,
  tables,
} from "./harness.js";

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

describe("changecast sink into Postgres, killed with SIGKILL", () => {
  it("applies every event exactly once across ≥ 10 kills mid-stream", async () => {
    // small batches: many transactions, so a kill lands between and inside them
    const project = exampleProject(pg.url, (text) =>
      text.replace("projections:", "batch:\n  maxEvents: 7\nprojections:"),
    );
    expect(cli(project, "run", "--config", project.config).code).toBe(0);
    const knex = connect(pg.url, project.dir);
    try {
      let kills = 0;
      let progressed = 0;
      let last = -1;
      for (let round = 0; kills < 12 && round < 40; round++) {
        const child = spawnCli(project, {}, "sink", "--config", project.sink);
        let out = "";
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        // killed at a random moment once the sink has started applying (its first line is printed then): it
        // applies ~1600 events in a few hundred transactions
        let timer: NodeJS.Timeout | undefined;
        child.stderr!.on("data", (d: Buffer) => {
          if (!timer && d.toString().includes("changecast sink:"))
            timer = setTimeout(() => child.kill("SIGKILL"), Math.floor(Math.random() * 300));
        });
        const code = await exited(child);
        clearTimeout(timer);
        if (child.signalCode === "SIGKILL") kills++;
        else {
          expect(code).toBe(0);
          if (out.includes("records read: 0")) break;
        }
        const applied = await knex("changecast_sink_positions")
          .sum({ n: knex.raw("cast(next_offset as bigint)") })
          .first()
          .catch(() => ({ n: 0 }));
        const now = Number((applied as { n: string | number } | undefined)?.n ?? 0);
        if (now > last && last >= 0) progressed++;
        last = now;
      }
      expect(kills).toBeGreaterThanOrEqual(10);
      expect(progressed).toBeGreaterThan(2);
      const final = cli(project, "sink", "--config", project.sink);
      expect(final.code).toBe(0);
      const expected = model(exampleViews(project.dir));
      expect(await tables(knex)).toEqual(expected);
      const positions = await knex("changecast_sink_positions").orderBy("topic");
      expect(positions.map((p: { topic: string; next_offset: string }) => [p.topic, p.next_offset])).toEqual([
        ["inventory.customer-events", String(outputViews(project.dir, "inventory.customer-events").length)],
        ["inventory.order-events", String(outputViews(project.dir, "inventory.order-events").length)],
      ]);
    } finally {
      await knex.destroy();
    }
  }, 600_000);
});
