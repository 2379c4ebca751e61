// One behaviour suite, run against both engines: the state machine above them must not
// be able to tell which one it runs on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk } from '../../disk/index.js';
import { AssertionFailure } from '../../errors/index.js';
import type { KvEngine, KvEntry, KvMutation } from './kv-engine.js';
import { LmdbEngine } from './lmdb-engine.js';
import { MemoryEngine } from './memory-engine.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-stream.js';

interface EngineFactory {
  readonly name: string;
  /** A fresh engine in its own place, and how to open that same place again. */
  create(): Promise<{ engine: KvEngine; reopen(): Promise<KvEngine>; cleanup(): Promise<void> }>;
}

const factories: EngineFactory[] = [
  {
    name: 'memory',
    async create() {
      return { engine: new MemoryEngine(), reopen: async () => new MemoryEngine(), cleanup: async () => {} };
    },
  },
  {
    name: 'lmdb',
    async create() {
      const directory = await mkdtemp(join(tmpdir(), 'atoll-lmdb-'));
      const options = { mapSizeBytes: 256 * 1024 * 1024 };
      return {
        engine: await LmdbEngine.open(directory, options),
        reopen: () => LmdbEngine.open(directory, options),
        cleanup: () => rm(directory, { recursive: true, force: true }),
      };
    },
  },
];

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const text = (value: string): Buffer => Buffer.from(value);
const set = (key: Uint8Array, value: Uint8Array): KvMutation => ({ op: 'set', key, value });
const del = (key: Uint8Array): KvMutation => ({ op: 'delete', key });

function plain(entries: Iterable<KvEntry>): Array<[string, string]> {
  return [...entries].map(({ key, value }) => [Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex')]);
}

for (const factory of factories) {
  const withEngine = (name: string, body: (engine: KvEngine, reopen: () => Promise<KvEngine>) => Promise<void>): void => {
    test(`${factory.name}: ${name}`, async () => {
      const { engine, reopen, cleanup } = await factory.create();
      const opened: KvEngine[] = [engine];
      try {
        await body(engine, async () => {
          const again = await reopen();
          opened.push(again);
          return again;
        });
      } finally {
        for (const each of opened) await each.close();
        await cleanup();
      }
    });
  };

  withEngine('counts by one-byte prefix follow new keys, overwrites, deletes of present and absent keys, and replaceAll', async (engine) => {
    const walked = (tag: number): number => engine.scan({ prefix: bytes(tag), limit: 10_000 }).length;
    let index = 0;
    let seed = 7;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let batch = 0; batch < 50; batch++) {
      const mutations: KvMutation[] = [];
      for (let change = 0; change < 20; change++) {
        const key = bytes(0x41 + (next() % 3), next() % 40);
        mutations.push(next() % 3 === 0 ? del(key) : set(key, bytes(batch)));
      }
      engine.write(++index, mutations);
      for (const tag of [0x41, 0x42, 0x43, 0x44]) assert.equal(engine.count(bytes(tag)), walked(tag), `batch ${batch}, tag ${tag}`);
    }
    engine.replaceAll(++index, [{ key: bytes(0x42, 1), value: bytes() }, { key: bytes(0x42, 2), value: bytes() }, { key: bytes(0x44), value: bytes() }]);
    assert.deepEqual([0x41, 0x42, 0x43, 0x44].map((tag) => engine.count(bytes(tag))), [0, 2, 0, 1]);
  });

  withEngine('a new engine is empty at applied index 0', async (engine) => {
    assert.equal(engine.kind, factory.name);
    assert.equal(engine.appliedIndex, 0);
    assert.equal(engine.get(text('a')), undefined);
    assert.deepEqual(engine.scan({ prefix: bytes(), limit: 10 }), []);
    assert.equal(engine.count(bytes()), 0);
  });

  withEngine('batches set, overwrite and delete keys and record the applied index', async (engine) => {
    engine.write(1, [set(text('a'), text('1')), set(text('b'), text('2')), set(text('c'), bytes())]);
    assert.equal(engine.appliedIndex, 1);
    engine.write(2, [set(text('a'), text('3')), del(text('b')), del(text('missing'))]);
    assert.equal(engine.appliedIndex, 2);
    assert.deepEqual(Buffer.from(engine.get(text('a'))!), text('3'));
    assert.equal(engine.get(text('b')), undefined);
    assert.deepEqual(Buffer.from(engine.get(text('c'))!), bytes(), 'an empty value is a value');
    engine.write(3, []);
    assert.equal(engine.appliedIndex, 3, 'an empty batch still moves the applied index');
  });

  withEngine('stored bytes do not change when the caller reuses its buffers', async (engine) => {
    const key = text('key');
    const value = text('value');
    engine.write(1, [set(key, value)]);
    const read = engine.get(text('key'))!;
    key.fill(0);
    value.fill(0);
    engine.write(2, [set(text('key'), text('other'))]);
    assert.deepEqual(Buffer.from(read), text('value'), 'a value read earlier is not changed by a later write');
    assert.deepEqual(Buffer.from(engine.get(text('key'))!), text('other'));
    assert.equal(engine.get(bytes(0, 0, 0)), undefined);
  });

  withEngine('a batch with an invalid mutation changes nothing', async (engine) => {
    engine.write(1, [set(text('a'), text('1'))]);
    const invalid: unknown[] = [
      [set(text('a'), text('2')), set(text('b'), text('2')), set(bytes(), text('empty key'))],
      [set(text('a'), text('2')), { op: 'set', key: text('c'), value: 'not bytes' }],
      [del(text('a')), { op: 'rename', key: text('a') }],
      [set(text('a'), text('2')), set(Buffer.alloc(1979, 1), text('key too long'))],
    ];
    for (const mutations of invalid) {
      assert.throws(() => engine.write(2, mutations as KvMutation[]), AssertionFailure);
      assert.equal(engine.appliedIndex, 1);
      assert.deepEqual(plain(engine.scan({ prefix: bytes(), limit: 10 })), [[text('a').toString('hex'), text('1').toString('hex')]]);
    }
  });

  withEngine('an applied index that does not increase is refused as a bug and changes nothing', async (engine) => {
    engine.write(5, [set(text('a'), text('1'))]);
    assert.throws(() => engine.write(5, [set(text('a'), text('2'))]), AssertionFailure);
    assert.throws(() => engine.write(4, [set(text('a'), text('2'))]), AssertionFailure);
    assert.throws(() => engine.write(5.5, [set(text('a'), text('2'))]), AssertionFailure);
    assert.equal(engine.appliedIndex, 5);
    assert.deepEqual(Buffer.from(engine.get(text('a'))!), text('1'));
  });

  withEngine('a further step of the same entry keeps its index; a step of another entry is refused as a bug', async (engine) => {
    engine.write(5, [set(text('a'), text('1'))]);
    engine.write(5, [set(text('b'), text('2'))], true);
    assert.equal(engine.appliedIndex, 5);
    assert.deepEqual(Buffer.from(engine.get(text('b'))!), text('2'));
    assert.throws(() => engine.write(6, [set(text('c'), text('3'))], true), AssertionFailure);
    assert.throws(() => engine.write(4, [set(text('c'), text('3'))], true), AssertionFailure);
    assert.equal(engine.get(text('c')), undefined);
    engine.write(6, [set(text('c'), text('3'))]);
    assert.equal(engine.appliedIndex, 6);
  });

  withEngine('paging through 10k keys by prefix returns each once, in unsigned byte order', async (engine) => {
    // Keys under prefix 0x80 with a second byte crossing 0x7f/0x80, keys under 0x80ff
    // (a prefix of the 0x80 prefix's range end), and neighbours outside the prefix.
    const inside: Buffer[] = [];
    for (let index = 0; index < 10_000; index++) inside.push(bytes(0x80, (index * 37) & 0xff, index >> 8, index & 0xff));
    inside.push(bytes(0x80), bytes(0x80, 0xff), bytes(0x80, 0xff, 0xff, 0xff, 0xff));
    const outside = [bytes(0x7f, 0xff), bytes(0x81), bytes(0x81, 0x00), bytes(0x00)];
    const all = [...inside, ...outside];
    for (let start = 0, index = 1; start < all.length; start += 1000, index++) {
      engine.write(index, all.slice(start, start + 1000).map((key) => set(key, key.subarray(1))));
    }
    const expected = [...new Set(inside.map((key) => key.toString('hex')))].sort();
    for (const limit of [1, 7, 1000, 20_000]) {
      const seen: string[] = [];
      let after: Uint8Array | undefined;
      for (let page = 0; page <= expected.length; page++) {
        const entries = engine.scan({ prefix: bytes(0x80), ...(after === undefined ? {} : { after }), limit });
        assert.ok(entries.length <= limit);
        for (const entry of entries) {
          seen.push(Buffer.from(entry.key).toString('hex'));
          assert.deepEqual(Buffer.from(entry.value), Buffer.from(entry.key).subarray(1));
        }
        if (entries.length < limit) break;
        after = entries[entries.length - 1]!.key;
      }
      assert.deepEqual(seen, expected, `limit ${limit}`);
    }
    assert.equal(engine.count(bytes(0x80)), expected.length);
    const under80ff = expected.filter((key) => key.startsWith('80ff'));
    assert.ok(under80ff.length > 2 && under80ff[0] === '80ff' && under80ff.at(-1) === '80ffffffff');
    assert.equal(engine.count(bytes(0x80, 0xff)), under80ff.length);
    assert.equal(engine.count(bytes()), expected.length + outside.length);
    assert.deepEqual(plain(engine.scan({ prefix: bytes(0x80, 0xff), limit: 100 })).map(([key]) => key), under80ff);
    assert.deepEqual(plain(engine.scan({ prefix: bytes(0xff), limit: 10 })), []);
    // `after` before the prefix starts at the prefix; after its end, nothing.
    assert.deepEqual(plain(engine.scan({ prefix: bytes(0x81), after: bytes(0x7f), limit: 10 })).map(([key]) => key), ['81', '8100']);
    assert.deepEqual(engine.scan({ prefix: bytes(0x80), after: bytes(0x81), limit: 10 }), []);
  });

  withEngine('a snapshot view keeps its entries and index while writes go on', async (engine) => {
    for (let index = 1; index <= 50; index++) engine.write(index, [set(bytes(index), text(`v${index}`))]);
    const expected = plain(engine.scan({ prefix: bytes(), limit: 1000 }));
    const view = engine.snapshotView();
    assert.equal(view.appliedIndex, 50);
    const seen: KvEntry[] = [];
    let index = 51;
    for (const entry of view.entries()) {
      seen.push(entry);
      // Interleave writes with the iteration: overwrite, delete and add keys.
      engine.write(index++, [set(bytes(seen.length), text('changed')), del(bytes(seen.length + 1)), set(bytes(200, seen.length), text('new'))]);
    }
    assert.deepEqual(plain(seen), expected);
    assert.deepEqual(plain(view.entries()), expected, 'a second pass sees the same');
    view.release();
    assert.equal(engine.appliedIndex, 100);
    assert.deepEqual(Buffer.from(engine.get(bytes(1))!), text('changed'));
  });

  withEngine('replaceAll installs exactly the given content and index', async (engine) => {
    engine.write(7, [set(text('old'), text('1')), set(text('z'), text('2'))]);
    engine.replaceAll(3, [
      { key: text('a'), value: text('x') },
      { key: text('b'), value: text('y') },
    ]);
    assert.equal(engine.appliedIndex, 3);
    assert.deepEqual(plain(engine.scan({ prefix: bytes(), limit: 10 })), [
      [text('a').toString('hex'), text('x').toString('hex')],
      [text('b').toString('hex'), text('y').toString('hex')],
    ]);
    engine.write(4, [set(text('c'), text('z'))]);
    assert.equal(engine.count(bytes()), 3);
  });

  withEngine('replaceAll that fails midway keeps the old content', async (engine) => {
    engine.write(2, [set(text('keep'), text('1'))]);
    function* failing(): Iterable<KvEntry> {
      yield { key: text('a'), value: text('x') };
      throw new Error('the snapshot source broke');
    }
    assert.throws(() => engine.replaceAll(9, failing()), /the snapshot source broke/);
    assert.throws(() => engine.replaceAll(9, [{ key: text('b'), value: text('x') }, { key: text('a'), value: text('x') }]), AssertionFailure);
    assert.equal(engine.appliedIndex, 2);
    assert.deepEqual(plain(engine.scan({ prefix: bytes(), limit: 10 })), [[text('keep').toString('hex'), text('1').toString('hex')]]);
  });

  withEngine('a snapshot written to a file and read back fills a new engine with the same content', async (engine) => {
    for (let index = 1; index <= 20; index++) {
      engine.write(index, Array.from({ length: 100 }, (_, item) => set(bytes(item & 0xff, index, item >> 8), Buffer.alloc(item * 3, index))));
    }
    const directory = await mkdtemp(join(tmpdir(), 'atoll-kvsnap-'));
    try {
      const disk = new NodeDisk();
      const view = engine.snapshotView();
      const written = await writeSnapshotFile(disk, directory, 'partition.snap', view.appliedIndex, view.entries());
      view.release();
      assert.equal(written.recordCount, 2000);
      const content = await readSnapshotFile(disk, written.path);
      for (const other of [new MemoryEngine(), await LmdbEngine.open(join(directory, 'lmdb'), { mapSizeBytes: 64 * 1024 * 1024 })]) {
        other.replaceAll(content.appliedIndex, content.entries);
        assert.equal(other.appliedIndex, 20);
        assert.deepEqual(plain(other.scan({ prefix: bytes(), limit: 5000 })), plain(engine.scan({ prefix: bytes(), limit: 5000 })));
        await other.close();
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  if (factory.name === 'lmdb') {
    withEngine('a reopened LMDB engine keeps its data and applied index', async (engine, reopen) => {
      engine.write(1, [set(text('a'), text('1')), set(bytes(0xff, 0), text('2'))]);
      engine.write(2, [del(text('a')), set(text('b'), text('3'))]);
      await engine.close();
      const again = await reopen();
      assert.equal(again.appliedIndex, 2);
      assert.deepEqual(plain(again.scan({ prefix: bytes(), limit: 10 })).map(([key]) => key), ['62', 'ff00']);
      again.write(3, [set(text('c'), text('4'))]);
      assert.equal(again.count(bytes()), 3);
    });
  }
}
