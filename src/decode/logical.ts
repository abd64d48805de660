// Pure conversions of Debezium / Kafka Connect logical values to the plain forms of change-event.ts.
// Integer math only (BigInt where values can pass 2^53): no Date, no floating point, so micro/nano digits
// and years outside 0000..9999 survive.

/** Big-endian two's-complement bytes (Java BigInteger.toByteArray) → signed integer. */
export function twosComplementToBigInt(bytes: Uint8Array): bigint {
  const len = bytes.length;
  if (len === 0) return 0n;
  if (len <= 6) {
    // fits a double exactly: avoid BigInt parsing for the common small decimals
    let n = 0;
    for (let i = 0; i < len; i++) n = n * 256 + (bytes[i] as number);
    if ((bytes[0] as number) >= 0x80) n -= 2 ** (8 * len);
    return BigInt(n);
  }
  let hex = "";
  for (let i = 0; i < len; i++) hex += HEX[bytes[i] as number];
  return BigInt.asIntN(8 * len, BigInt("0x" + hex));
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * unscaled × 10^-scale as an exact plain decimal string; keeps the trailing zeros of a positive scale
 * (500, 2 → "5.00") and expands a negative scale (Oracle NUMBER(p,-s)): 12, -2 → "1200".
 */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
    digits = digits.slice(0, digits.length - scale) + "." + digits.slice(digits.length - scale);
  } else if (scale < 0 && unscaled !== 0n) {
    digits += "0".repeat(-scale);
  }
  return negative ? "-" + digits : digits;
}

/** Decodes a base64 Connect Decimal (decimal.format=BASE64) with the given scale. */
export function decodeBase64Decimal(base64: string, scale: number): string {
  return formatDecimal(twosComplementToBigInt(Buffer.from(base64, "base64")), scale);
}

/** Days since 1970-01-01 → "YYYY-MM-DD" (Java LocalDate form: "+10000-01-01", "-0001-12-31"). */
export function formatEpochDay(epochDay: number): string {
  const [year, month, day] = civilFromDays(epochDay);
  return formatYear(year) + "-" + pad2(month) + "-" + pad2(day);
}

/** Days since 1970-01-01 → proleptic Gregorian [year, month, day] (Howard Hinnant's civil_from_days, exact). */
export function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function formatYear(year: number): string {
  if (year < 0) return "-" + String(-year).padStart(4, "0");
  if (year > 9999) return "+" + String(year);
  return String(year).padStart(4, "0");
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** Sub-second units per second for each precision. */
export type TimeUnit = "ms" | "us" | "ns";
const FRACTION_DIGITS: Record<TimeUnit, number> = { ms: 3, us: 6, ns: 9 };
const PER_SECOND: Record<TimeUnit, bigint> = { ms: 1000n, us: 1_000_000n, ns: 1_000_000_000n };
const PER_DAY_NUMBER: Record<TimeUnit, number> = {
  ms: 86_400_000,
  us: 86_400_000_000,
  ns: 86_400_000_000_000,
};

/**
 * Time of day in the given unit → "HH:MM:SS.fff" with the unit's digits (3, 6 or 9). 24:00:00 (Postgres
 * allows it) stays 24:00:00.
 */
export function formatTimeOfDay(value: number | bigint, unit: TimeUnit): string {
  let seconds: number;
  let fraction: number;
  if (typeof value === "number") {
    const perSecond = Number(PER_SECOND[unit]);
    seconds = Math.floor(value / perSecond);
    fraction = value - seconds * perSecond;
  } else {
    const perSecond = PER_SECOND[unit];
    seconds = Number(value / perSecond);
    fraction = Number(value % perSecond);
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = seconds % 60;
  return (
    pad2(h) + ":" + pad2(m) + ":" + pad2(s) + "." + String(fraction).padStart(FRACTION_DIGITS[unit], "0")
  );
}

/**
 * Epoch value in the given unit (wall clock read as UTC) → ISO-8601 "YYYY-MM-DDTHH:MM:SS.fff…Z" with the
 * unit's digits. Negative values (before 1970) and values beyond 2^53 are exact.
 */
export function formatEpochTimestamp(value: number | bigint, unit: TimeUnit): string {
  let day: number;
  let ofDay: number | bigint;
  if (typeof value === "number" && Math.abs(value) < 2 ** 52) {
    const perDay = PER_DAY_NUMBER[unit];
    day = Math.floor(value / perDay);
    let rest = value - day * perDay;
    // the float division can be off by one near a day boundary: correct it exactly
    if (rest < 0) {
      day -= 1;
      rest += perDay;
    } else if (rest >= perDay) {
      day += 1;
      rest -= perDay;
    }
    ofDay = rest;
  } else {
    const v = BigInt(value);
    const perDay = PER_SECOND[unit] * 86_400n;
    let d = v / perDay;
    let rest = v % perDay;
    if (rest < 0n) {
      d -= 1n;
      rest += perDay;
    }
    day = Number(d);
    ofDay = rest;
  }
  return formatEpochDay(day) + "T" + formatTimeOfDay(ofDay, unit) + "Z";
}
