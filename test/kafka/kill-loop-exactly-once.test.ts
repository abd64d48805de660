import { describe, it } from "vitest";
import { killLoop } from "./kill-loop.js";

describe("kill -9 loop (exactly-once)", () => {
  it(
    "loses no ce_id across 20 SIGKILLs during a 100k-record stream",
    () => killLoop("exactly-once"),
    330_000,
  );
});
