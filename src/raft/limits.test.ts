import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { resolveRaftConfig } from './config.js';
import { buildRaftLimits, raftLimitsDefault } from './limits.js';
import { MemoryStorage } from './memory-storage.js';
import { ReadOnlyOption } from './read-only.js';
import type { NodeId } from './types.js';

test('the default limits are consistent', () => {
  assert.deepEqual(buildRaftLimits(), raftLimitsDefault);
});

test('an election timeout not above the heartbeat interval is refused', () => {
  assert.throws(() => buildRaftLimits({ electionTicks: 2, heartbeatTicks: 2 }), /electionTicks must exceed heartbeatTicks/);
});

test('an inflight byte window smaller than one message is refused', () => {
  assert.throws(() => buildRaftLimits({ inflightBytesMax: 10, messageBytesMax: 100 }), /inflightBytesMax must be at least messageBytesMax/);
});

test('zero, negative and fractional limits are refused with the limit named', () => {
  assert.throws(() => buildRaftLimits({ inflightMessagesMax: 0 }), /inflightMessagesMax/);
  assert.throws(() => buildRaftLimits({ uncommittedBytesMax: -1 }), /uncommittedBytesMax/);
  assert.throws(() => buildRaftLimits({ heartbeatTicks: 1.5 }), /heartbeatTicks/);
});

test('lease-based reads without check-quorum are refused', () => {
  assert.throws(
    () =>
      resolveRaftConfig({
        id: 1 as NodeId,
        storage: new MemoryStorage(),
        random: createRandom(1),
        checkQuorum: false,
        readOnlyOption: ReadOnlyOption.LeaseBased,
      }),
    /lease-based requires checkQuorum/,
  );
});

test('config defaults: pre-vote, check-quorum and campaigning on, forwarding on', () => {
  const config = resolveRaftConfig({ id: 1 as NodeId, storage: new MemoryStorage(), random: createRandom(1) });
  assert.equal(config.preVote, true);
  assert.equal(config.checkQuorum, true);
  assert.equal(config.campaignEnabled, true);
  assert.equal(config.disableProposalForwarding, false);
  assert.equal(config.readOnlyOption, ReadOnlyOption.Safe);
  assert.throws(() => resolveRaftConfig({ id: 0 as NodeId, storage: new MemoryStorage(), random: createRandom(1) }), /id must be a positive/);
});
