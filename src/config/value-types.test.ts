import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatByteSize,
  formatDuration,
  formatHostPort,
  parseBoolean,
  parseByteSize,
  parseDuration,
  parseHost,
  parseHostPort,
  parseInteger,
  splitCommaList,
  type Parsed,
} from './value-types.js';

function valueOf<T>(parsed: Parsed<T>): T {
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
  return parsed.value;
}

function problemOf(parsed: Parsed<unknown>): string {
  assert.ok(!parsed.ok, `expected a problem, got ${JSON.stringify(parsed)}`);
  return parsed.problem;
}

test('integers parse from flag text and file numbers within their range', () => {
  assert.equal(valueOf(parseInteger('17010', 0, 65535)), 17010);
  assert.equal(valueOf(parseInteger(0, 0, 65535)), 0);
  assert.equal(problemOf(parseInteger('abc', 0, 65535)), 'must be an integer from 0 to 65535, got "abc"');
  assert.equal(problemOf(parseInteger(70000, 0, 65535)), 'must be an integer from 0 to 65535, got 70000');
  assert.equal(problemOf(parseInteger(1.5, 0, 65535)), 'must be an integer from 0 to 65535, got 1.5');
  assert.equal(problemOf(parseInteger('12x', 1, Number.MAX_SAFE_INTEGER)), 'must be an integer of at least 1, got "12x"');
  assert.equal(problemOf(parseInteger(true, 0, 10)), 'must be an integer from 0 to 10, got true');
});

test('booleans accept true and false only', () => {
  assert.equal(valueOf(parseBoolean('true')), true);
  assert.equal(valueOf(parseBoolean(false)), false);
  assert.equal(problemOf(parseBoolean('yes')), 'must be true or false, got "yes"');
});

test('byte sizes read binary and decimal units and refuse ambiguous ones', () => {
  assert.equal(valueOf(parseByteSize('10GiB')), 10 * 2 ** 30);
  assert.equal(valueOf(parseByteSize('10GB')), 10e9);
  assert.equal(valueOf(parseByteSize('1.5MiB')), 1.5 * 2 ** 20);
  assert.equal(valueOf(parseByteSize('1.1MB')), 1_100_000);
  assert.equal(valueOf(parseByteSize('512 kib')), 512 * 1024);
  assert.equal(valueOf(parseByteSize('4096')), 4096);
  assert.equal(valueOf(parseByteSize(4096)), 4096);
  assert.match(problemOf(parseByteSize('10G')), /unit "G" is ambiguous in "10G": write GiB \(powers of 1024\) or GB/);
  assert.equal(problemOf(parseByteSize('lots')), 'must be a byte size like 512MiB or 10GiB, got "lots"');
  assert.match(problemOf(parseByteSize('10XB')), /units: B, KiB/);
  assert.equal(problemOf(parseByteSize('1.5B')), 'must be a whole number of bytes, got "1.5B"');
  assert.equal(problemOf(parseByteSize(-1)), 'must be a byte size like 512MiB or 10GiB, got -1');
  assert.equal(formatByteSize(10 * 2 ** 30), '10GiB');
  assert.equal(formatByteSize(1000), '1000B');
});

test('durations read ms, s, m, h, d and compounds, and refuse bare numbers', () => {
  assert.equal(valueOf(parseDuration('200ms')), 200);
  assert.equal(valueOf(parseDuration('5s')), 5000);
  assert.equal(valueOf(parseDuration('1m30s')), 90_000);
  assert.equal(valueOf(parseDuration('1.5h')), 5_400_000);
  assert.equal(valueOf(parseDuration('0')), 0);
  assert.equal(valueOf(parseDuration(0)), 0);
  assert.equal(problemOf(parseDuration('5')), 'must be a duration like 200ms, 5s or 1m30s, got "5" (give a unit: ms, s, m, h or d)');
  assert.equal(problemOf(parseDuration(5)), 'must be a duration like 200ms, 5s or 1m30s, got 5 (give a unit: ms, s, m, h or d)');
  assert.equal(problemOf(parseDuration('5 sec')), 'must be a duration like 200ms, 5s or 1m30s, got "5 sec"');
  assert.equal(problemOf(parseDuration('0.5ms')), 'must be a whole number of milliseconds, got "0.5ms"');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(200), '200ms');
});

test('host:port accepts names, IPv4 and bracketed IPv6, and needs a real port', () => {
  assert.deepEqual(valueOf(parseHostPort('127.0.0.1:17010')), { host: '127.0.0.1', port: 17010 });
  assert.deepEqual(valueOf(parseHostPort('master-1.example:17010')), { host: 'master-1.example', port: 17010 });
  assert.deepEqual(valueOf(parseHostPort('[::1]:17010')), { host: '::1', port: 17010 });
  assert.equal(formatHostPort({ host: '::1', port: 17010 }), '[::1]:17010');
  assert.match(problemOf(parseHostPort('127.0.0.1')), /must be host:port like 127\.0\.0\.1:17010, got "127\.0\.0\.1" \(the port is missing\)/);
  assert.match(problemOf(parseHostPort('::1:17010')), /write an IPv6 address in brackets/);
  assert.match(problemOf(parseHostPort('a:0')), /the port must be from 1 to 65535/);
  assert.match(problemOf(parseHostPort('a:99999')), /the port must be from 1 to 65535/);
  assert.match(problemOf(parseHostPort('bad host:1')), /must be host:port/);
});

test('a host is a name or an address without a port', () => {
  assert.equal(valueOf(parseHost('10.1.2.3')), '10.1.2.3');
  assert.equal(valueOf(parseHost('::1')), '::1');
  assert.equal(problemOf(parseHost('10.1.2.3:17010')), 'must be a host name or IP address without a port, got "10.1.2.3:17010"');
  assert.equal(problemOf(parseHost('')), 'must be a host name or IP address, got ""');
});

test('comma lists trim items and treat an empty text as an empty list', () => {
  assert.deepEqual(splitCommaList('a:1, b:2,'), ['a:1', 'b:2']);
  assert.deepEqual(splitCommaList(''), []);
});
