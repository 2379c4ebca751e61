import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

const processFixture = fileURLToPath(new URL('./logger-process-fixture.js', import.meta.url));

function runFixture(...args: string[]) {
  return spawnSync(process.execPath, [processFixture, ...args], { encoding: 'utf8', timeout: 10_000 });
}

function recordsOf(text: string): Record<string, any>[] {
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
}

test('a fatal line logged to stderr right before process.exit is not lost', () => {
  const child = runFixture('fatal-then-exit', 'stderr');
  assert.equal(child.status, 70);
  const records = recordsOf(child.stderr);
  assert.equal(records.length, 1001);
  const fatal = records[1000]!;
  assert.equal(fatal.level, 'fatal');
  assert.equal(fatal.msg, 'fatal right before exit');
  assert.equal(fatal.err.message, 'invariant broken');
});

test('a fatal line logged to a file right before process.exit is not lost', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'atoll-logger-exit-'));
  try {
    const filePath = join(folder, 'exit.log');
    const child = runFixture('fatal-then-exit', filePath);
    assert.equal(child.status, 70);
    const records = recordsOf(await readFile(filePath, 'utf8'));
    assert.equal(records.length, 1001);
    assert.equal(records[1000]?.msg, 'fatal right before exit');
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('a line logged after the log file is closed goes to stderr instead of throwing', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'atoll-logger-close-'));
  try {
    const filePath = join(folder, 'closed.log');
    const child = runFixture('log-after-close', filePath);
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(recordsOf(await readFile(filePath, 'utf8')).map((record) => record.msg), ['before close']);
    assert.deepEqual(recordsOf(child.stderr).map((record) => record.msg), ['after close']);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('a log device that refuses writes is reported once on stderr and does not crash the process', () => {
  const child = runFixture('device-full');
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, 'still running\n');
  const reports = recordsOf(child.stderr);
  assert.equal(reports.length, 1);
  assert.equal(reports[0]?.err.code, 'ENOSPC');
  assert.match(reports[0]?.msg, /^cannot write log to \/dev\/full; /);
});

test('a log file that cannot be opened fails createLogger with its path', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'atoll-logger-bad-'));
  try {
    const notAFolder = join(folder, 'plain-file');
    await writeFile(notAFolder, '');
    const filePath = join(notAFolder, 'mn.log');
    assert.throws(
      () => createLogger({ role: 'metanode', instance: 'mn-7', level: 'info', destination: { filePath } }),
      (error: unknown) => error instanceof Error && error.message.startsWith(`cannot open log file ${filePath}: E`),
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
