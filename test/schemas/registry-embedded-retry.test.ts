// The embedded registry's store writes (a state store transaction) are retried when the failure is transient
// (isRetriable: SQLITE_BUSY, pg serialization failure / deadlock …) or a concurrent writer's unique violation,
// and not when the store is broken.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EmbeddedRegistry } from "../../src/schemas/embedded-registry.js";
import { RegistryError } from "../../src/schemas/remote-registry.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";

const schema = JSON.stringify({ type: "record", name: "R", fields: [{ name: "id", type: "long" }] });
const coded = (code: string) => Object.assign(new Error(`store failed: ${code}`), { code });

let store: StateStore;
beforeEach(async () => {
  store = await openStateStore("sqlite::memory:");
});
afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
});

describe("embedded registry store writes", () => {
  for (const code of ["SQLITE_BUSY", "40001", "40P01"]) {
    it(`retries a transient ${code}, then registers`, async () => {
      const registry = await EmbeddedRegistry.open(store);
      const transaction = vi.spyOn(store.knex, "transaction");
      transaction.mockImplementationOnce((() => Promise.reject(coded(code))) as never);
      const registered = await registry.register("r-value", schema);
      expect(registered.version).toBe(1);
      expect(transaction.mock.calls.length).toBeGreaterThanOrEqual(2);
    });
  }

  it("does not retry a permanent failure (SQLITE_CORRUPT): one attempt, a store error", async () => {
    const registry = await EmbeddedRegistry.open(store);
    const transaction = vi.spyOn(store.knex, "transaction");
    transaction.mockImplementation((() => Promise.reject(coded("SQLITE_CORRUPT"))) as never);
    const err = await registry.register("r-value", schema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).message).toMatch(/backend data store.*SQLITE_CORRUPT/);
    expect((err as RegistryError).retriable).toBe(true); // a 5xx to its clients: they may retry
    expect(transaction).toHaveBeenCalledTimes(1);
  });
});
