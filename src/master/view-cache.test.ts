import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VolumeView } from '../proto/generated/master.js';
import { FollowerViewCache } from './view-cache.js';

class ManualClock {
  now = 0;
  nowMs(): number {
    return this.now;
  }
}

function view(volume: string, version: number): VolumeView {
  return { volume, version, metaPartitions: [], dataPartitions: [], replicaCount: 3, capacityBytes: 1, trashRetentionHours: 0, volumeId: 1, readOnly: false };
}

const stalenessMs = 3_000;

test('a follower whose cache is behind never hands a client an older view than one it has seen', () => {
  // The failure this guards against: the leader moved the volume's view on (version 20),
  // the client got version 20 from the leader, and then asks a follower whose copy is
  // still at 10. The follower must send the client to the leader, not answer with 10.
  const clock = new ManualClock();
  const cache = new FollowerViewCache(clock);
  cache.accept({ term: 3, appliedIndex: 10, versions: [{ volume: 'v', version: 10 }], views: [view('v', 10)] });
  const behind = cache.lookup('v', 20, stalenessMs);
  assert.equal(behind.kind, 'miss');
  assert.match(behind.kind === 'miss' ? behind.reason : '', /older than the caller's 20/);
  // A client that has seen nothing newer than 10 is served.
  const served = cache.lookup('v', 10, stalenessMs);
  assert.equal(served.kind === 'hit' && served.view.version, 10);
});

test('views the leader no longer confirms are not served past the staleness bound', () => {
  const clock = new ManualClock();
  const cache = new FollowerViewCache(clock);
  cache.accept({ term: 1, appliedIndex: 5, versions: [{ volume: 'v', version: 5 }], views: [view('v', 5)] });
  clock.now = stalenessMs;
  assert.equal(cache.lookup('v', 0, stalenessMs).kind, 'hit');
  clock.now = stalenessMs + 1;
  const stale = cache.lookup('v', 0, stalenessMs);
  assert.equal(stale.kind, 'miss');
  assert.match(stale.kind === 'miss' ? stale.reason : '', /bound 3000 ms/);
});

test('a push drops views whose version moved on and keeps the rest without resending them', () => {
  const clock = new ManualClock();
  const cache = new FollowerViewCache(clock);
  cache.accept({ term: 1, appliedIndex: 5, versions: [{ volume: 'a', version: 4 }, { volume: 'b', version: 5 }], views: [view('a', 4), view('b', 5)] });
  // b changed at the leader but the push carries only its version (its view went missing).
  const held = cache.accept({ term: 1, appliedIndex: 9, versions: [{ volume: 'a', version: 4 }, { volume: 'b', version: 9 }], views: [] });
  assert.deepEqual(held, [{ volume: 'a', version: 4 }]);
  assert.equal(cache.lookup('b', 0, stalenessMs).kind, 'miss', 'an outdated view is dropped, not served');
  assert.equal(cache.lookup('a', 4, stalenessMs).kind, 'hit');
});

test('a push of an older term or an older index cannot roll the cache back', () => {
  const clock = new ManualClock();
  const cache = new FollowerViewCache(clock);
  cache.accept({ term: 2, appliedIndex: 10, versions: [{ volume: 'v', version: 10 }], views: [view('v', 10)] });
  cache.accept({ term: 1, appliedIndex: 12, versions: [{ volume: 'v', version: 3 }], views: [view('v', 3)] });
  cache.accept({ term: 2, appliedIndex: 8, versions: [{ volume: 'v', version: 8 }], views: [view('v', 8)] });
  const lookup = cache.lookup('v', 0, stalenessMs);
  assert.equal(lookup.kind === 'hit' && lookup.view.version, 10);
  // A new term starts from what its leader sends.
  cache.accept({ term: 3, appliedIndex: 1, versions: [], views: [] });
  assert.equal(cache.lookup('v', 0, stalenessMs).kind, 'miss');
});

test('an empty cache and a cleared cache serve nothing', () => {
  const clock = new ManualClock();
  const cache = new FollowerViewCache(clock);
  assert.equal(cache.lookup('v', 0, stalenessMs).kind, 'miss');
  cache.accept({ term: 1, appliedIndex: 1, versions: [{ volume: 'v', version: 1 }], views: [view('v', 1)] });
  cache.clear();
  assert.equal(cache.lookup('v', 0, stalenessMs).kind, 'miss');
});
