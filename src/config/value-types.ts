// Text forms of the value types a config key can have, parsed without I/O.
// Each parser returns either the value or a problem phrased to follow "<key>: ", so
// the caller can add where the text came from. Problems quote what was given because
// "invalid value" alone makes the user hunt for which one.

import { isIP } from 'node:net';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export function parsedValue<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function parseProblem<T = never>(problem: string): Parsed<T> {
  return { ok: false, problem };
}

/** Quotes strings, shows other values as they print; for "got ..." in messages. */
export function describeGiven(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  if (value !== null && typeof value === 'object') return 'a table';
  return String(value);
}

// ---------------------------------------------------------------- integers

export function integerRangeText(min: number, max: number): string {
  if (min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER) return 'an integer';
  if (max === Number.MAX_SAFE_INTEGER) return `an integer of at least ${min}`;
  if (min === Number.MIN_SAFE_INTEGER) return `an integer of at most ${max}`;
  return `an integer from ${min} to ${max}`;
}

/** Accepts a number from a file or decimal digits from a flag. */
export function parseInteger(given: unknown, min: number, max: number): Parsed<number> {
  const expectation = `must be ${integerRangeText(min, max)}, got ${describeGiven(given)}`;
  let value: number;
  if (typeof given === 'number') value = given;
  else if (typeof given === 'bigint') return parseProblem(expectation);
  else if (typeof given === 'string' && /^\s*[-+]?\d+\s*$/.test(given)) value = Number(given);
  else return parseProblem(expectation);
  if (!Number.isSafeInteger(value) || value < min || value > max) return parseProblem(expectation);
  return parsedValue(value);
}

// ---------------------------------------------------------------- booleans

export function parseBoolean(given: unknown): Parsed<boolean> {
  if (typeof given === 'boolean') return parsedValue(given);
  if (given === 'true') return parsedValue(true);
  if (given === 'false') return parsedValue(false);
  return parseProblem(`must be true or false, got ${describeGiven(given)}`);
}

// ---------------------------------------------------------------- byte sizes

const bytesPerUnit: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['kb', 1e3],
  ['mb', 1e6],
  ['gb', 1e9],
  ['tb', 1e12],
  ['pb', 1e15],
  ['kib', 2 ** 10],
  ['mib', 2 ** 20],
  ['gib', 2 ** 30],
  ['tib', 2 ** 40],
  ['pib', 2 ** 50],
]);

/** Largest binary unit that divides the count exactly, so defaults print as "10GiB". */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [['PiB', 2 ** 50], ['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/**
 * "10GiB" (binary), "10GB" (decimal), "1.5MiB", "4096" (bytes). A bare "G" or "K" is
 * refused: half the tools read it as 2^30 and half as 10^9, and a disk reservation off
 * by 7% is the kind of surprise a config file should not hold.
 */
export function parseByteSize(given: unknown): Parsed<number> {
  const expectation = `must be a byte size like 512MiB or 10GiB, got ${describeGiven(given)}`;
  if (typeof given === 'number') {
    return Number.isSafeInteger(given) && given >= 0 ? parsedValue(given) : parseProblem(expectation);
  }
  if (typeof given !== 'string') return parseProblem(expectation);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(given);
  if (match === null) return parseProblem(expectation);
  const [, amountText, unitText] = match;
  const unit = unitText.toLowerCase();
  if (/^[kmgtp]$/.test(unit)) {
    const letter = unitText.toUpperCase();
    return parseProblem(`unit "${unitText}" is ambiguous in ${describeGiven(given)}: write ${letter}iB (powers of 1024) or ${letter}B (powers of 1000)`);
  }
  const multiplier = bytesPerUnit.get(unit);
  if (multiplier === undefined) return parseProblem(`${expectation} (units: B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB, PB)`);
  const exact = Number(amountText) * multiplier;
  const rounded = Math.round(exact);
  // Floating point makes 1.1MB come out as 1100000.0000000002; only a real fraction
  // of a byte is an error.
  if (Math.abs(exact - rounded) > 1e-6) return parseProblem(`must be a whole number of bytes, got ${describeGiven(given)}`);
  if (!Number.isSafeInteger(rounded)) return parseProblem(`is too large, got ${describeGiven(given)}`);
  return parsedValue(rounded);
}

// ---------------------------------------------------------------- durations

const millisecondsPerUnit: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);

export function formatDuration(milliseconds: number): string {
  if (milliseconds === 0) return '0s';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (milliseconds % size === 0) return `${milliseconds / size}${unit}`;
  }
  return `${milliseconds}ms`;
}

/**
 * "200ms", "5s", "1m30s", "1.5h", "0". A bare non-zero number is refused rather than
 * guessed: "timeout = 5" meaning 5 ms where 5 s was meant is a silent outage.
 */
export function parseDuration(given: unknown): Parsed<number> {
  const expectation = `must be a duration like 200ms, 5s or 1m30s, got ${describeGiven(given)}`;
  if (given === 0 || given === '0') return parsedValue(0);
  if (typeof given === 'number') return parseProblem(`${expectation} (give a unit: ms, s, m, h or d)`);
  if (typeof given !== 'string') return parseProblem(expectation);
  const text = given.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return parseProblem(`${expectation} (give a unit: ms, s, m, h or d)`);
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text)) return parseProblem(expectation);
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(part[1]) * millisecondsPerUnit.get(part[2])!;
  }
  const rounded = Math.round(total);
  if (Math.abs(total - rounded) > 1e-6) return parseProblem(`must be a whole number of milliseconds, got ${describeGiven(given)}`);
  if (!Number.isSafeInteger(rounded)) return parseProblem(`is too large, got ${describeGiven(given)}`);
  return parsedValue(rounded);
}

// ---------------------------------------------------------------- hosts and addresses

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Brackets IPv6 so the result parses back: "[::1]:17010". */
export function formatHostPort(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A host name, an IPv4 address or an IPv6 address (without brackets). */
export function parseHost(given: unknown): Parsed<string> {
  if (typeof given !== 'string') return parseProblem(`must be a host name or IP address, got ${describeGiven(given)}`);
  const text = given.trim();
  if (isIP(text) !== 0 || hostnamePattern.test(text)) return parsedValue(text);
  if (/^[^:]+:\d+$/.test(text)) return parseProblem(`must be a host name or IP address without a port, got ${describeGiven(given)}`);
  return parseProblem(`must be a host name or IP address, got ${describeGiven(given)}`);
}

/**
 * "host:port", "10.0.0.1:17010" or "[::1]:17010". The port must be a real one: an
 * address given to reach another server cannot use 0 ("pick any").
 */
export function parseHostPort(given: unknown): Parsed<HostPort> {
  const expectation = `must be host:port like 127.0.0.1:17010, got ${describeGiven(given)}`;
  if (typeof given !== 'string') return parseProblem(expectation);
  const text = given.trim();
  let hostText: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed !== null) {
    [, hostText, portText] = bracketed;
    if (isIP(hostText) !== 6) return parseProblem(`${expectation} (only IPv6 addresses go in brackets)`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return parseProblem(`${expectation} (the port is missing)`);
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostText.includes(':')) return parseProblem(`${expectation} (write an IPv6 address in brackets: [::1]:17010)`);
  }
  const host = parseHost(hostText);
  if (!host.ok) return parseProblem(expectation);
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return parseProblem(`${expectation} (the port must be from 1 to 65535)`);
  }
  return parsedValue({ host: host.value, port });
}

// ---------------------------------------------------------------- lists from flags

/** "a,b, c" -> ["a", "b", "c"]; an empty text is an empty list ("--peers=" clears). */
export function splitCommaList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}
