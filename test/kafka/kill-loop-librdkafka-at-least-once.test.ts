// The kill loop of kill-loop-at-least-once.test.ts with kafka.client: librdkafka (skipped where the optional native
// client is not installed).
import { describe, it } from "vitest";
import { librdkafkaAvailable } from "../../src/kafka/librdkafka-api.js";
import { killLoop } from "./kill-loop.js";

describe.skipIf(!librdkafkaAvailable())("kill -9 loop (librdkafka, at-least-once)", () => {
  it(
    "loses no ce_id across 20 SIGKILLs during a 100k-record stream",
    () => killLoop("at-least-once", "librdkafka"),
    330_000,
  );
});
