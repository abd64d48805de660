import { describe, expect, it } from "vitest";
import { fromWireFormat, toWireFormat } from "../../src/encode/index.js";

describe("Confluent wire format", () => {
  it("is 0x00, the schema id as 4 big-endian bytes, then the body", () => {
    const wire = toWireFormat(0x01020304, Buffer.from([0xaa, 0xbb]));
    expect([...wire]).toEqual([0x00, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb]);
    const { schemaId, body } = fromWireFormat(wire);
    expect(schemaId).toBe(0x01020304);
    expect([...body]).toEqual([0xaa, 0xbb]);
  });

  it("accepts an empty body", () => {
    expect(fromWireFormat(toWireFormat(1, Buffer.alloc(0))).body.length).toBe(0);
  });

  it("rejects a wrong magic byte", () => {
    expect(() => fromWireFormat(Buffer.from([0x01, 0, 0, 0, 1, 2]))).toThrow(/magic byte 0x01/);
  });

  it("rejects a buffer shorter than the header", () => {
    expect(() => fromWireFormat(Buffer.from([0x00, 0, 0]))).toThrow(/too short/);
  });

  it("rejects an id that is not a 32-bit non-negative integer", () => {
    expect(() => toWireFormat(-1, Buffer.alloc(0))).toThrow(/schema id/);
    expect(() => toWireFormat(2 ** 31, Buffer.alloc(0))).toThrow(/schema id/);
  });
});
