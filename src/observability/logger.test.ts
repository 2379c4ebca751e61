import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childLogger, closeLogger, createLogger, logError, silentLogger, type LogLevel } from './logger.js';

function capturingLogger(level: LogLevel = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ role: 'metanode', instance: 'mn-7', level, destination: { stream: { write: (line: string) => void lines.push(line) } } });
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

const isoTimePattern = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('every line is one JSON object with role, instance, pid, ISO time and level name', () => {
  const { logger, lines, records } = capturingLogger();
  logger.info({ volumes: 2 }, 'master elected');
  logger.warn('disk nearly full');
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.ok(line.endsWith('\n'));
    assert.equal(line.trimEnd().includes('\n'), false, 'one line per record');
  }
  const [first, second] = records();
  assert.equal(first?.role, 'metanode');
  assert.equal(first?.instance, 'mn-7');
  assert.equal(first?.pid, process.pid);
  assert.equal(typeof first?.hostname, 'string');
  assert.match(String(first?.time), isoTimePattern);
  assert.equal(first?.level, 'info');
  assert.equal(first?.msg, 'master elected');
  assert.equal(first?.volumes, 2);
  assert.equal(second?.level, 'warn');
});

test('lines below the level are dropped', () => {
  const { logger, records } = capturingLogger('warn');
  logger.info('not shown');
  logger.debug('not shown');
  logger.error('shown');
  assert.deepEqual(records().map((record) => record.msg), ['shown']);
});

test('child loggers add partition, term, peer and connection to every line', () => {
  const { logger, records } = capturingLogger();
  const raftLogger = childLogger(logger, { component: 'raft', partition: 12, term: 5n, peer: 'node-3', connection: 41, });
  raftLogger.info('became leader');
  childLogger(raftLogger, { term: 6n }).info('new term');
  const [leader, newTerm] = records();
  assert.equal(leader?.component, 'raft');
  assert.equal(leader?.partition, 12);
  assert.equal(leader?.term, 5);
  assert.equal(leader?.peer, 'node-3');
  assert.equal(leader?.connection, 41);
  assert.equal(leader?.role, 'metanode');
  assert.equal(newTerm?.term, 6);
  assert.equal(newTerm?.partition, 12);
});

test('absent context fields are not written', () => {
  const { logger, lines } = capturingLogger();
  childLogger(logger, { partition: 1, peer: undefined }).info('x');
  assert.equal(lines[0]?.includes('"peer"'), false);
});

test('logError writes the code and every cause of the chain with its own code', () => {
  const { logger, records } = capturingLogger();
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
  const rpcFailure = Object.assign(new Error('append entries to node-2 failed', { cause: reset }), { code: 'UNAVAILABLE', retryable: true });
  logError(logger, new Error('replicate partition 4', { cause: rpcFailure }), 'replication stalled', { partition: 4 });
  const [record] = records();
  assert.equal(record?.level, 'error');
  assert.equal(record?.msg, 'replication stalled');
  assert.equal(record?.partition, 4);
  const err = record?.err as Record<string, any>;
  assert.equal(err.type, 'Error');
  assert.equal(err.message, 'replicate partition 4');
  assert.match(err.stack, /replicate partition 4/);
  assert.equal(err.cause.code, 'UNAVAILABLE');
  assert.equal(err.cause.retryable, true);
  assert.equal(err.cause.cause.code, 'ECONNRESET');
  assert.equal(err.cause.cause.syscall, 'read');
  assert.equal(err.cause.cause.cause, undefined);
});

test('an Error passed as the first argument is serialized the same way', () => {
  const { logger, records } = capturingLogger();
  logger.error(Object.assign(new Error('boom', { cause: new TypeError('inner') }), { code: 'E_BOOM' }), 'failed');
  const err = records()[0]?.err as Record<string, any>;
  assert.equal(err.code, 'E_BOOM');
  assert.equal(err.cause.type, 'TypeError');
});

test('a logged field named like a reserved one is moved, so no line has a key twice', () => {
  const { logger, lines, records } = capturingLogger();
  logger.info({ pid: 999, role: 'datanode', time: 'yesterday', size: 3 }, 'child process started');
  // A key written twice would be lost by parsing, so the re-serialized line would be shorter.
  const line = (lines[0] ?? '').trimEnd();
  assert.equal(JSON.stringify(JSON.parse(line)).length, line.length);
  const [record] = records();
  assert.equal(record?.pid, process.pid);
  assert.equal(record?.role, 'metanode');
  assert.deepEqual(record?.clashingFields, { pid: 999, role: 'datanode', time: 'yesterday' });
  assert.equal(record?.size, 3);
});

test('an unknown level is refused with the accepted ones listed', () => {
  assert.throws(
    () => createLogger({ role: 'master', instance: 'm1', level: 'verbose' as LogLevel, destination: { stream: { write: () => undefined } } }),
    /unknown level 'verbose' \(expected one of fatal, error, warn, info, debug, trace, silent\)/,
  );
});

test('silentLogger accepts every call and writes nothing', () => {
  const logger = silentLogger();
  assert.equal(logger.level, 'silent');
  logger.fatal('nothing');
  logError(childLogger(logger, { partition: 1 }), new Error('x'), 'nothing');
});

test('a file destination creates its folder, appends JSON lines and closes', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'atoll-logger-'));
  try {
    const filePath = join(folder, 'nested', 'mn-7.log');
    for (const round of [1, 2]) {
      const logger = createLogger({ role: 'metanode', instance: 'mn-7', level: 'info', destination: { filePath } });
      childLogger(logger, { partition: round }).info({ round }, 'round');
      await closeLogger(logger);
      await closeLogger(logger); // a second close is harmless
    }
    const records = (await readFile(filePath, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records.map((record) => [record.round, record.partition, record.instance]), [[1, 1, 'mn-7'], [2, 2, 'mn-7']]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

const exitFixture = fileURLToPath(new URL('./logger-exit-fixture.js', import.meta.url));

function lastRecord(text: string): Record<string, any> {
  const lines = text.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as Record<string, any>;
}

test('a fatal line logged to stderr right before process.exit is not lost', () => {
  const child = spawnSync(process.execPath, [exitFixture, 'stderr'], { encoding: 'utf8' });
  assert.equal(child.status, 70);
  assert.equal(child.stderr.trimEnd().split('\n').length, 1001);
  const fatal = lastRecord(child.stderr);
  assert.equal(fatal.level, 'fatal');
  assert.equal(fatal.msg, 'fatal right before exit');
  assert.equal(fatal.err.message, 'invariant broken');
});

test('a fatal line logged to a file right before process.exit is not lost', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'atoll-logger-exit-'));
  try {
    const filePath = join(folder, 'exit.log');
    const child = spawnSync(process.execPath, [exitFixture, filePath], { encoding: 'utf8' });
    assert.equal(child.status, 70);
    const text = await readFile(filePath, 'utf8');
    assert.equal(text.trimEnd().split('\n').length, 1001);
    assert.equal(lastRecord(text).msg, 'fatal right before exit');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
