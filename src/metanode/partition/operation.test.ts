import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kvKeyBytesMax } from '../store/limits.js';
import { keyId } from './operation.js';

test('keyId maps every byte to one char, so different keys never share an id, up to the longest key', () => {
  const all = Uint8Array.from({ length: 256 }, (_, byte) => byte);
  const id = keyId(all);
  assert.equal(id.length, 256);
  for (let byte = 0; byte < 256; byte++) assert.equal(id.charCodeAt(byte), byte);
  assert.notEqual(keyId(Uint8Array.of(1, 2)), keyId(Uint8Array.of(1, 2, 0)));
  assert.equal(keyId(new Uint8Array(0)), '');
  const longest = new Uint8Array(kvKeyBytesMax).fill(0xff);
  assert.equal(keyId(longest).length, kvKeyBytesMax);
  // A view into a larger buffer: only its own bytes.
  assert.equal(keyId(all.subarray(10, 13)), '\u000a\u000b\u000c');
});

test('Changes: reads see the operation\'s own writes and deletes, in the order of first write, with few keys and with many', async () => {
  const { MemoryEngine } = await import('../store/index.js');
  const { Changes, pendingScannedMax } = await import('./operation.js');
  for (const count of [3, pendingScannedMax, pendingScannedMax + 1, 40]) {
    const engine = new MemoryEngine();
    const key = (n: number) => Uint8Array.of(0x58, n >> 8, n & 0xff);
    engine.write(1, [{ op: 'set', key: key(1000), value: Uint8Array.of(9) }]);
    const changes = new Changes(engine);
    for (let n = 0; n < count; n++) changes.set(key(n), Uint8Array.of(n));
    changes.set(key(0), Uint8Array.of(200));
    changes.delete(key(1));
    changes.delete(key(1000));
    assert.deepEqual(changes.get(key(0)), Uint8Array.of(200), `${count}: the later write wins`);
    assert.equal(changes.get(key(1)), undefined, `${count}: deleted here`);
    assert.equal(changes.get(key(1000)), undefined, `${count}: the engine's record, deleted here`);
    assert.deepEqual(changes.get(key(count - 1)), Uint8Array.of((count - 1) & 0xff));
    assert.equal(changes.get(key(5000)), undefined);
    const { mutations } = changes.outcome(null);
    assert.equal(mutations.length, count + 1, `${count}: one mutation per key`);
    assert.deepEqual(mutations.map((mutation) => (mutation.key[1]! << 8) | mutation.key[2]!), [...Array.from({ length: count }, (_, n) => n), 1000]);
    assert.equal(mutations[0]!.op === 'set' && mutations[0]!.value[0], 200);
    assert.equal(mutations[1]!.op, 'delete');
    assert.equal(changes.hasKeyWithPrefix(Uint8Array.of(0x58)), true);
  }
});
