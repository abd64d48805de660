// Exact decimal arithmetic for the Avro `decimal` logical type: text ⇄ unscaled bigint ⇄ two's complement.
import { Reason, show } from "./errors.js";

const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Largest precision a fixed of `size` bytes can hold (Avro spec: floor(log10(2^(8·size−1) − 1))). */
export function maxFixedPrecision(size: number): number {
  return ((1n << BigInt(8 * size - 1)) - 1n).toString().length - 1;
}

function label(precision: number, scale: number): string {
  return `decimal(${precision},${scale})`;
}

function checkDigits(unscaled: bigint, precision: number, scale: number, input: unknown): bigint {
  const abs = unscaled < 0n ? -unscaled : unscaled;
  if (abs !== 0n && abs.toString().length > precision) {
    throw new Reason(`${show(input)} does not fit ${label(precision, scale)}`);
  }
  return unscaled;
}

/**
 * The unscaled value (value × 10^scale) of a decimal string, bigint or number. Extra fraction digits
 * are accepted only when they are zeros; anything that would need rounding or overflow is a Reason.
 */
export function toUnscaled(input: unknown, precision: number, scale: number): bigint {
  if (typeof input === "bigint") return checkDigits(input * 10n ** BigInt(scale), precision, scale, input);
  let text: string;
  if (typeof input === "number") {
    if (!Number.isFinite(input)) throw new Reason(`${show(input)} is not a finite number`);
    text = String(input); // shortest text that round-trips: 0.1 → "0.1", 1e40 → "1e+40"
  } else if (typeof input === "string") {
    text = input;
  } else {
    throw new Reason(`${show(input)} is not a decimal (expected a decimal string, an integer or a number)`);
  }
  const m = DECIMAL_TEXT.exec(text);
  const intPart = m?.[2] ?? "";
  const fracPart = m?.[3] ?? "";
  if (!m || intPart + fracPart === "") throw new Reason(`${show(input)} is not a decimal number`);
  const negative = m[1] === "-";
  let exponent = Number(m[4] ?? "0") - fracPart.length;
  let digits = (intPart + fracPart).replace(/^0+/, "");
  if (digits === "") return 0n;
  const significant = digits.replace(/0+$/, "");
  exponent += digits.length - significant.length;
  digits = significant;
  // value = digits × 10^exponent, digits without leading or trailing zeros
  if (-exponent > scale) {
    throw new Reason(
      `${show(input)} has more fraction digits than ${label(precision, scale)} allows (scale ${scale})`,
    );
  }
  if (!Number.isFinite(exponent) || digits.length + exponent > precision - scale) {
    throw new Reason(`${show(input)} does not fit ${label(precision, scale)}`);
  }
  const unscaled = BigInt(digits) * 10n ** BigInt(exponent + scale);
  return negative ? -unscaled : unscaled;
}

/** "12.50" for (1250n, 2); exactly `scale` fraction digits, no sign on zero. */
export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const cut = digits.length - scale;
  const text = scale === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${text}` : text;
}

/** Big-endian two's complement: minimal length (like Java's BigInteger.toByteArray), or exactly `size`. */
export function toTwosComplement(n: bigint, size?: number): Buffer {
  let length = 1;
  while (n < -(1n << BigInt(8 * length - 1)) || n >= 1n << BigInt(8 * length - 1)) length++;
  if (size !== undefined) {
    if (length > size) throw new Reason(`${n} does not fit in ${size} bytes`);
    length = size;
  }
  let rest = n < 0n ? (1n << BigInt(8 * length)) + n : n;
  const buf = Buffer.alloc(length);
  for (let i = length - 1; i >= 0; i--) {
    buf[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return buf;
}

export function fromTwosComplement(buf: Uint8Array): bigint {
  if (buf.length === 0) return 0n;
  let n = 0n;
  for (const byte of buf) n = (n << 8n) | BigInt(byte);
  return (buf[0] ?? 0) & 0x80 ? n - (1n << BigInt(8 * buf.length)) : n;
}
