import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCauseDepthMax, serializeError } from './error-serializer.js';

test('a thrown non-Error value keeps its type and a readable message', () => {
  assert.deepEqual(serializeError('disk on fire'), { type: 'string', message: 'disk on fire' });
  assert.deepEqual(serializeError({ term: 3n }), { type: 'object', message: '{"term":"3"}' });
  assert.deepEqual(serializeError(null), { type: 'null', message: 'null' });
  assert.deepEqual(serializeError(undefined), { type: 'undefined', message: 'undefined' });
});

test('a non-Error cause is kept in the chain', () => {
  const serialized = serializeError(new Error('outer', { cause: 'timeout' }));
  assert.deepEqual(serialized.cause, { type: 'string', message: 'timeout' });
});

test('an error subclass is named by its name, then by its constructor', () => {
  class PartitionNotReadyError extends Error {}
  class NamedError extends Error {
    override name = 'RaftStorageError';
  }
  assert.equal(serializeError(new PartitionNotReadyError('p')).type, 'PartitionNotReadyError');
  assert.equal(serializeError(new NamedError('n')).type, 'RaftStorageError');
});

test('a cyclic cause chain ends with a marker instead of looping', () => {
  const first = new Error('first');
  const second = new Error('second', { cause: first });
  (first as { cause?: unknown }).cause = second;
  const serialized = serializeError(first);
  assert.equal(serialized.cause?.message, 'second');
  assert.equal(serialized.cause?.cause?.message, '[circular cause]');
});

test('a very long cause chain is cut at the depth limit', () => {
  let error = new Error('root');
  for (let depth = 0; depth < 50; depth += 1) error = new Error(`level ${depth}`, { cause: error });
  let serialized = serializeError(error);
  let depth = 0;
  while (serialized.cause !== undefined) {
    serialized = serialized.cause;
    depth += 1;
  }
  assert.equal(depth, errorCauseDepthMax);
  assert.equal(serialized.type, 'truncated');
});

test('AggregateError members are written', () => {
  const serialized = serializeError(new AggregateError([new Error('a'), Object.assign(new Error('b'), { code: 'EB' })], 'all replicas failed'));
  assert.deepEqual(serialized.errors?.map((member) => [member.message, member.code]), [['a', undefined], ['b', 'EB']]);
});

test('only primitive fields are copied; objects on the error stay out of the log', () => {
  const error = Object.assign(new Error('x'), { port: 9000, peer: { secret: 'no' }, retryable: false });
  const serialized = serializeError(error);
  assert.equal(serialized.port, 9000);
  assert.equal(serialized.retryable, false);
  assert.equal(serialized.peer, undefined);
});
