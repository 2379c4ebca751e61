// The default engine: a B+ tree in memory (sorted-btree). Durability comes from the Raft
// log and the snapshot files; this engine only has to be fast and consistent.
//
// Keys and values are copied in on write, so a caller reusing its buffers cannot change
// stored data. Bytes handed out (get, scan, snapshot entries) are the stored ones and are
// shared with snapshot views: callers must treat them as read-only.
import sortedBtree from 'sorted-btree';
import { assert } from '../../errors/index.js';
import type { KvEngine, KvEntry, KvKey, KvMutation, KvRange, KvSnapshotView, KvValue } from './kv-engine.js';
import { checkAppliedIndex, checkBatch, checkEntryOrder, checkKey, checkRange, compareKeys, copyBytes, hasPrefix } from './key-order.js';

// sorted-btree is CommonJS with the class as `exports.default`: under ESM the default
// import is the whole exports object.
const BTree = sortedBtree.default;
type Tree = sortedBtree.default<Buffer, Buffer>;

function newTree(): Tree {
  return new BTree<Buffer, Buffer>(undefined, compareKeys);
}

export class MemoryEngine implements KvEngine {
  readonly kind = 'memory' as const;
  private tree: Tree = newTree();
  // Keys per first byte (the record kind: partition/keys.ts), kept on every write, so the
  // counts of statfs and heartbeats cost nothing for a one-byte prefix.
  private keysPerTag = new Float64Array(256);
  private index = 0;
  private closed = false;

  get appliedIndex(): number {
    return this.index;
  }

  get(key: KvKey): KvValue | undefined {
    this.checkOpen('get');
    checkKey(key, 'get');
    return this.tree.get(key as Buffer);
  }

  scan(range: KvRange): KvEntry[] {
    this.checkOpen('scan');
    checkRange(range);
    return scanTree(this.tree, range);
  }

  count(prefix: KvKey): number {
    this.checkOpen('count');
    assert(prefix instanceof Uint8Array, 'count: prefix must be a Uint8Array');
    if (prefix.byteLength === 1) return this.keysPerTag[prefix[0]!]!;
    // Longer prefixes: sorted-btree keeps no subtree sizes, so this walks the prefix,
    // O(keys counted) (one inode's xattrs, bounded by xattrsPerInodeMax).
    let counted = 0;
    for (const [key] of this.tree.entries(prefix as Buffer)) {
      if (!hasPrefix(key, prefix)) break;
      counted++;
    }
    return counted;
  }

  write(appliedIndex: number, mutations: readonly KvMutation[], sameEntry = false): void {
    this.checkOpen('write');
    // Every check runs before the first change: that is what makes the batch atomic here.
    checkBatch(this.index, appliedIndex, mutations, sameEntry);
    for (const mutation of mutations) {
      if (mutation.op === 'set') {
        if (this.tree.set(copyBytes(mutation.key), copyBytes(mutation.value), true)) this.keysPerTag[mutation.key[0]!]! += 1;
      } else if (this.tree.delete(mutation.key as Buffer)) {
        this.keysPerTag[mutation.key[0]!]! -= 1;
      }
    }
    this.index = appliedIndex;
  }

  replaceAll(appliedIndex: number, entries: Iterable<KvEntry>): void {
    this.checkOpen('replaceAll');
    checkAppliedIndex(appliedIndex, 'replaceAll');
    // Built aside and swapped in, so entries that fail the checks (or an iterator that
    // throws, as a corrupt snapshot file does) leave the current content in place.
    const tree = newTree();
    const keysPerTag = new Float64Array(256);
    let previous: KvKey | undefined;
    for (const entry of entries) {
      checkEntryOrder(previous, entry);
      const key = copyBytes(entry.key);
      tree.set(key, copyBytes(entry.value));
      keysPerTag[key[0]!]! += 1;
      previous = key;
    }
    this.tree = tree;
    this.keysPerTag = keysPerTag;
    this.index = appliedIndex;
  }

  snapshotView(): KvSnapshotView {
    this.checkOpen('snapshotView');
    // clone() is O(1): nodes become shared and copy-on-write, so later writes to this
    // engine copy the nodes they change and the view keeps the tree as it is now.
    return new TreeSnapshotView(this.tree.clone(), this.index);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.tree = newTree();
    this.keysPerTag = new Float64Array(256);
  }

  private checkOpen(action: string): void {
    assert(!this.closed, () => `${action}: the memory engine is closed`);
  }
}

function scanTree(tree: Tree, range: KvRange): KvEntry[] {
  const { prefix, after, limit } = range;
  const found: KvEntry[] = [];
  // Start at the later of the prefix and `after`; `after` itself is excluded.
  const resumes = after !== undefined && compareKeys(after, prefix) >= 0;
  const start = (resumes ? after : prefix) as Buffer;
  for (const [key, value] of tree.entries(start)) {
    if (resumes && compareKeys(key, start) === 0) continue;
    if (!hasPrefix(key, prefix) || found.length >= limit) break;
    found.push({ key, value });
  }
  return found;
}

class TreeSnapshotView implements KvSnapshotView {
  private tree: Tree | undefined;

  constructor(
    tree: Tree,
    readonly appliedIndex: number,
  ) {
    this.tree = tree;
  }

  *entries(): Iterable<KvEntry> {
    const tree = this.tree;
    assert(tree !== undefined, 'snapshot view: entries() after release()');
    for (const [key, value] of tree.entries()) yield { key, value };
  }

  release(): void {
    this.tree = undefined;
  }
}
