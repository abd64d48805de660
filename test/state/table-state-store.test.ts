// The table-state store on SQLite (the embedded default); the same cases run on Postgres in
// postgres-table-state.test.ts.
import { afterAll, describe } from "vitest";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { tableStateStoreCases } from "./table-state-store-cases.js";

const opened: StateStore[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

describe("table state store (SQLite)", () => {
  tableStateStoreCases(async () => {
    const store = await openStateStore("sqlite::memory:");
    opened.push(store);
    return store;
  });
});
