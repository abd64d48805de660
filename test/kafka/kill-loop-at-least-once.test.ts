import { describe, it } from "vitest";
import { killLoop } from "./kill-loop.js";

describe("kill -9 loop (at-least-once)", () => {
  it(
    "loses no ce_id across 20 SIGKILLs during a 100k-record stream",
    () => killLoop("at-least-once"),
    330_000,
  );
});
