// Avro `long` as JS bigint, exact over the whole int64 range (avsc's default long stops at 2^53).
import avro from "avsc";

export const LONG_MIN = -(1n << 63n);
export const LONG_MAX = (1n << 63n) - 1n;
export const INT_MIN = -(2 ** 31);
export const INT_MAX = 2 ** 31 - 1;

export function isLong(value: unknown): value is bigint {
  return typeof value === "bigint" && value >= LONG_MIN && value <= LONG_MAX;
}

/** JSON defaults and clones: accepts the forms a long can take in a parsed schema. */
function longFromJson(value: unknown): bigint {
  if (typeof value === "bigint" && isLong(value)) return value;
  if (typeof value === "number" && Number.isInteger(value)) {
    const n = BigInt(value);
    if (isLong(n)) return n;
  }
  if (typeof value === "string" && /^-?\d+$/.test(value)) {
    const n = BigInt(value);
    if (isLong(n)) return n;
  }
  throw new Error(`invalid long: ${String(value)}`);
}

const LONG_SCRATCH = Buffer.alloc(8);

/** avsc hands us (and expects back) the long as 8 bytes, little-endian two's complement. */
export const bigintLongType: avro.Type = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): bigint => buf.readBigInt64LE(0),
  // avsc packs the 8 bytes into its output at once (AbstractLongType._write): one scratch buffer serves all
  toBuffer: (n: bigint): Buffer => {
    LONG_SCRATCH.writeBigInt64LE(n);
    return LONG_SCRATCH;
  },
  fromJSON: longFromJson,
  toJSON: (n: bigint): bigint => n,
  isValid: isLong,
  compare: (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0),
});
