// Calendar math for the Avro date/time logical types, in BigInt where sub-millisecond digits matter.
// Dates are proleptic Gregorian (as Avro and java.time use), converted without the JS Date object so
// micro- and nanosecond digits stay exact.
import { Reason, show } from "./errors.js";
import { civilFromDays } from "../decode/logical.js";

/** Digits of the fraction of a second a type holds: 3 (millis) or 6 (micros). */
export type FractionDigits = 3 | 6;

const SECONDS_PER_DAY = 86_400;

// Years: 4 digits, or signed with 4 to 9 digits — ISO 8601 expanded years as JS prints them (±YYYYYY) and as
// java.time (and so Debezium's decoded values) prints them ("+10000", "-0001", "+292278994").
const ISO_TIMESTAMP =
  /^([+-]\d{4,9}|\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const ISO_DATE = /^([+-]\d{4,9}|\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function pad(n: number | bigint, width: number): string {
  return n.toString().padStart(width, "0");
}

function formatYear(year: number): string {
  if (year >= 0 && year <= 9999) return pad(year, 4);
  return `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 6)}`; // ISO 8601 expanded year, as JS prints it
}

export function formatDate(days: number): string {
  const [year, month, day] = civilFromDays(days);
  return `${formatYear(year)}-${pad(month, 2)}-${pad(day, 2)}`;
}

function daysInMonth(year: number, month: number): number {
  return (
    daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) -
    daysFromCivil(year, month, 1)
  );
}

/** Days of a validated calendar date, or a Reason naming the input. */
function dateToDays(input: string, yearText: string, monthText: string, dayText: string): number {
  const year = Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new Reason(`${show(input)} is not a valid calendar date`);
  }
  return daysFromCivil(year, month, day);
}

/** "123" with 6 digits → 123000n; extra digits must be zeros (no silent truncation). */
function fractionUnits(input: string, fraction: string, digits: FractionDigits, typeName: string): bigint {
  if (fraction.length > digits && /[^0]/.test(fraction.slice(digits))) {
    throw new Reason(`${show(input)} is more precise than ${typeName} (${digits} fraction digits) can hold`);
  }
  return BigInt(fraction.slice(0, digits).padEnd(digits, "0"));
}

function timeOfDaySeconds(input: string, h: string, m: string, s: string | undefined): number {
  const hours = Number(h);
  const minutes = Number(m);
  const seconds = Number(s ?? "0");
  if (hours > 23 || minutes > 59 || seconds > 59)
    throw new Reason(`${show(input)} is not a valid time of day`);
  return hours * 3600 + minutes * 60 + seconds;
}

/**
 * An ISO-8601 timestamp as units (10^-digits s) since the epoch. `local`: a wall-clock type, which takes
 * a string without offset (or with Z); otherwise the string must carry Z or an offset.
 */
export function parseTimestamp(
  input: string,
  digits: FractionDigits,
  local: boolean,
  typeName: string,
): bigint {
  const m = ISO_TIMESTAMP.exec(input);
  if (!m) throw new Reason(`${show(input)} is not an ISO-8601 timestamp`);
  const [, y = "", mo = "", d = "", h = "", mi = "", s, fraction = "", zulu, sign, oh, om] = m;
  const hasOffset = zulu !== undefined || sign !== undefined;
  let offsetSeconds = 0;
  if (sign !== undefined) {
    const hours = Number(oh);
    const minutes = Number(om ?? "0");
    if (hours > 18 || minutes > 59) throw new Reason(`${show(input)} has an invalid UTC offset`);
    offsetSeconds = (sign === "-" ? -1 : 1) * (hours * 3600 + minutes * 60);
  }
  if (!local && !hasOffset) throw new Reason(`${show(input)} has no UTC offset (add Z or ±HH:MM)`);
  if (local && offsetSeconds !== 0) {
    throw new Reason(`${show(input)} has a UTC offset; ${typeName} holds a wall-clock time without zone`);
  }
  const days = dateToDays(input, y, mo, d);
  // BigInt: the seconds of a 9-digit year pass 2^53
  const seconds =
    BigInt(days) * BigInt(SECONDS_PER_DAY) + BigInt(timeOfDaySeconds(input, h, mi, s) - offsetSeconds);
  return seconds * 10n ** BigInt(digits) + fractionUnits(input, fraction, digits, typeName);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function formatTimeOfDay(units: bigint, digits: FractionDigits): string {
  const scale = 10n ** BigInt(digits);
  const seconds = Number(units / scale);
  const fraction = units % scale;
  const hms = `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`;
  return `${hms}.${pad(fraction, digits)}`;
}

/** "2024-03-15T10:05:11.102Z" (millis) / "…11.102345Z" (micros); no Z for a local timestamp. */
export function formatTimestamp(units: bigint, digits: FractionDigits, local: boolean): string {
  const perDay = BigInt(SECONDS_PER_DAY) * 10n ** BigInt(digits);
  const days = floorDiv(units, perDay);
  const text = `${formatDate(Number(days))}T${formatTimeOfDay(units - days * perDay, digits)}`;
  return local ? text : `${text}Z`;
}

/** "YYYY-MM-DD", or an ISO timestamp at exactly midnight UTC, as days since the epoch. */
export function parseDate(input: string): number {
  const m = ISO_DATE.exec(input);
  if (m) return dateToDays(input, m[1] ?? "", m[2] ?? "", m[3] ?? "");
  if (!ISO_TIMESTAMP.test(input)) throw new Reason(`${show(input)} is not a date (expected YYYY-MM-DD)`);
  const micros = parseTimestamp(input, 6, false, "date");
  const perDay = BigInt(SECONDS_PER_DAY) * 1_000_000n;
  if (micros % perDay !== 0n)
    throw new Reason(`${show(input)} is not at midnight UTC; a date cannot hold the time`);
  return Number(micros / perDay);
}

/** "HH:MM[:SS[.fraction]]" as units since midnight. */
export function parseTime(input: string, digits: FractionDigits, typeName: string): bigint {
  const m = ISO_TIME.exec(input);
  if (!m) throw new Reason(`${show(input)} is not a time of day (expected HH:MM:SS[.fraction])`);
  const seconds = timeOfDaySeconds(input, m[1] ?? "", m[2] ?? "", m[3]);
  return BigInt(seconds) * 10n ** BigInt(digits) + fractionUnits(input, m[4] ?? "", digits, typeName);
}

export function formatTime(units: bigint, digits: FractionDigits): string {
  return formatTimeOfDay(units, digits);
}

export function unitsPerDay(digits: FractionDigits): bigint {
  return BigInt(SECONDS_PER_DAY) * 10n ** BigInt(digits);
}
