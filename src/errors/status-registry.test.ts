import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StatusCode } from '../proto/generated/common.js';
import { allStatusInfos, errnoNumber, isKnownStatus, isRoutingRefusal, statusInfo } from './status-registry.js';
import { AtollError } from './atoll-error.js';

const protoCodes = Object.values(StatusCode).filter((value): value is StatusCode => typeof value === 'number');

test('every status code of the proto enum is in the registry', () => {
  assert.ok(protoCodes.length >= 17);
  for (const code of protoCodes) {
    assert.ok(isKnownStatus(code), `${StatusCode[code]} (${code}) has no registry entry`);
    const info = statusInfo(code);
    assert.equal(info.name, StatusCode[code]);
    assert.ok(info.message.length > 0);
    if (code !== StatusCode.OK) assert.ok(errnoNumber(code) > 0, `${info.name} maps to an errno`);
  }
  assert.equal(allStatusInfos().length, protoCodes.length, 'the registry has no codes the proto lacks');
});

test('every status code is documented in docs/status-codes.md with its errno and retry flag', () => {
  const document = readFileSync('docs/status-codes.md', 'utf8');
  for (const info of allStatusInfos()) {
    const row = document.split('\n').find((line) => line.startsWith(`| \`${info.name}\` |`));
    assert.ok(row, `docs/status-codes.md has no row for ${info.name}`);
    const cells = row.split('|').map((cell) => cell.trim());
    assert.equal(cells[2], String(info.code), `${info.name}: number`);
    assert.equal(cells[3], info.errnoName === null ? '-' : `\`${info.errnoName}\``, `${info.name}: errno`);
    assert.equal(cells[4], info.retryable ? 'yes' : 'no', `${info.name}: retryable`);
  }
});

test('the status codes the wire contract promises exist', () => {
  for (const name of ['OK', 'NOT_FOUND', 'EXISTS', 'NOT_EMPTY', 'NOT_DIR', 'IS_DIR', 'NOT_LEADER', 'PARTITION_NOT_READY', 'STALE_VIEW', 'NO_SPACE', 'INVALID_ARGUMENT', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'TIMEOUT', 'OVERLOADED', 'CHECKSUM_MISMATCH', 'INTERNAL']) {
    assert.ok(name in StatusCode, `${name} missing from proto/common.proto`);
  }
});

test('AtollError carries status, Node-style code and the retry flag', () => {
  const error = new AtollError(StatusCode.NOT_FOUND, 'lookup /a/b: no such entry');
  assert.equal(error.code, 'ENOENT');
  assert.equal(error.retryable, false);
  assert.equal(error.statusName, 'NOT_FOUND');
  assert.ok(new AtollError(StatusCode.PARTITION_NOT_READY).retryable);
  assert.equal(new AtollError(StatusCode.NOT_LEADER, 'x', { leaderHint: 'h:1' }).leaderHint, 'h:1');
});

test('routing refusals are the retryable statuses that say the request was not carried out', () => {
  const refusals = allStatusInfos().filter((info) => isRoutingRefusal(info.code)).map((info) => info.name);
  assert.deepEqual(refusals.sort(), ['NOT_LEADER', 'OVERLOADED', 'PARTITION_NOT_READY', 'STALE_VIEW']);
  for (const name of refusals) assert.ok(statusInfo(StatusCode[name as keyof typeof StatusCode]).retryable, `${name} is retryable`);
  assert.ok(!isRoutingRefusal(StatusCode.TIMEOUT), 'a timeout leaves the outcome unknown');
  assert.ok(!isRoutingRefusal(StatusCode.UNAVAILABLE));
});
