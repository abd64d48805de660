// Confluent wire format: magic byte 0x00, 4-byte big-endian schema id, then the Avro binary body.

import { ChangecastError } from "../errors.js";

const MAGIC = 0x00;
const HEADER_BYTES = 5;

export class WireFormatError extends ChangecastError {
  readonly code = "ENCODE_WIRE_FORMAT";
  override readonly name = "WireFormatError";
}

export function toWireFormat(schemaId: number, body: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new WireFormatError(`schema id ${schemaId} is not a non-negative 32-bit integer`);
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

export function fromWireFormat(buf: Buffer): { schemaId: number; body: Buffer } {
  if (buf.length < HEADER_BYTES) {
    throw new WireFormatError(
      `${buf.length} bytes is too short for the Confluent wire format (needs at least 5)`,
    );
  }
  const magic = buf.readUInt8(0);
  if (magic !== MAGIC) {
    throw new WireFormatError(
      `unknown magic byte 0x${magic.toString(16).padStart(2, "0")} (Confluent wire format starts with 0x00)`,
    );
  }
  return { schemaId: buf.readUInt32BE(1), body: buf.subarray(HEADER_BYTES) };
}
