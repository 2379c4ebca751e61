import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError, StatusCode } from '../errors/index.js';
import { neverDelivered } from './partition-router.js';
import { callOutcomeUnknownSuffix } from '../rpc/index.js';

test('only a local failure to deliver, or a peer refusing while it shuts down, counts as never delivered', () => {
  assert.equal(neverDelivered(new AtollError(StatusCode.UNAVAILABLE, '127.0.0.1:9: connection refused')), true);
  assert.equal(neverDelivered(new AtollError(StatusCode.UNAVAILABLE, 'DataNode.Write: server is shutting down; retry on another connection', { remote: true })), true);
  // A leader that got the request and relays a replica's refusal: the request did arrive.
  assert.equal(neverDelivered(new AtollError(StatusCode.UNAVAILABLE, 'DataNode.CreateExtent: replica 127.0.0.1:9 failed: UNAVAILABLE: connection refused', { remote: true })), false);
  assert.equal(neverDelivered(new AtollError(StatusCode.TIMEOUT, 'connection refused')), false);
  // The connection closed with the call already sent (rpc.test.ts makes one): maybe carried out.
  assert.equal(neverDelivered(new AtollError(StatusCode.UNAVAILABLE, `127.0.0.1:9: connection closed by the server${callOutcomeUnknownSuffix}`, { outcomeUnknown: true })), false);
  assert.equal(neverDelivered(new AtollError(StatusCode.UNAVAILABLE, '127.0.0.1:9: connection closed by the server')), true, 'closed before the call was sent');
});
