// The kernel's inodes as the kernel server knows them: one node id per file of the file
// system (found by the inode number its getattr answers), the names that lead to it (a
// hard link's names are one node, so the kernel sees one inode with one nlink), the
// kernel's lookup count, and the handles open on it. Paths for the path-based file system
// are built from the names. Pure bookkeeping, no I/O.
//
// - Every entry reply (lookup, create, mkdir, symlink, link) adds one lookup; FORGET
//   takes them away; a node is dropped when its count reaches 0 (the root never is).
// - Unlink, rmdir and a rename over a name take that name from its node; a node without
//   names is detached: it keeps its id (the kernel still holds the inode, an open file
//   still works by its handles) and the path it had last.
// - A name found leading to another inode than before (changed by another client) moves
//   to that inode's node.
// - Node ids are never reused, so the generation stays 0.
import { assert } from '../../errors/index.js';
import { rootNodeId } from './protocol.js';

interface Node {
  readonly id: number;
  /** The file system's inode number, when its getattr gives one. */
  readonly ino: number | undefined;
  /** Keys (parent, name) of the names that lead here, in the order they were learnt. */
  readonly names: Set<string>;
  lookups: number;
  /** The path when the last name was taken away (for handle operations on it). */
  lastPath: string;
  readonly handles: Set<bigint>;
}

const separator = '\0';
const keyOf = (parent: number, name: string): string => `${parent}${separator}${name}`;

function splitKey(key: string): { parent: number; name: string } {
  const at = key.indexOf(separator);
  return { parent: Number(key.slice(0, at)), name: key.slice(at + 1) };
}

export class NodeTable {
  readonly #nodes = new Map<number, Node>();
  readonly #byName = new Map<string, number>();
  readonly #byIno = new Map<number, number>();
  #nextId = rootNodeId + 1;

  constructor(rootIno?: number) {
    this.#nodes.set(rootNodeId, { id: rootNodeId, ino: rootIno, names: new Set(), lookups: 1, lastPath: '/', handles: new Set() });
    if (rootIno !== undefined) this.#byIno.set(rootIno, rootNodeId);
  }

  get size(): number {
    return this.#nodes.size;
  }

  has(id: number): boolean {
    return this.#nodes.has(id);
  }

  /** The path of a node ('/' for the root), or undefined when it is unknown or detached. */
  path(id: number): string | undefined {
    const names: string[] = [];
    let current = id;
    for (let depth = 0; current !== rootNodeId; depth++) {
      assert(depth < 100_000, 'node table: a cycle of parents');
      const node = this.#nodes.get(current);
      if (node === undefined) return undefined;
      const first = node.names.values().next();
      if (first.done === true) return undefined;
      const { parent, name } = splitKey(first.value);
      names.push(name);
      current = parent;
    }
    return `/${names.reverse().join('/')}`;
  }

  /** The path of a node, or the one it had when it was detached (for handle operations). */
  pathForHandle(id: number): string | undefined {
    return this.path(id) ?? this.#nodes.get(id)?.lastPath;
  }

  /** The path of `name` in directory `parent`, or undefined when the parent has none. */
  childPath(parent: number, name: string): string | undefined {
    const parentPath = this.path(parent);
    if (parentPath === undefined) return undefined;
    return parentPath === '/' ? `/${name}` : `${parentPath}/${name}`;
  }

  /**
   * The node `parent`/`name` leads to after an entry reply about inode `ino`: found (by
   * name, else by inode number) or made, with one more lookup.
   */
  lookedUp(parent: number, name: string, ino: number | undefined): number {
    assert(this.#nodes.has(parent), () => `node table: lookup under unknown node ${parent}`);
    const key = keyOf(parent, name);
    const named = this.#byName.get(key);
    if (named !== undefined) {
      const node = this.#nodes.get(named)!;
      if (node.ino === ino) {
        node.lookups++;
        return named;
      }
      this.#takeName(node, key);
    }
    const known = ino === undefined ? undefined : this.#byIno.get(ino);
    if (known !== undefined) {
      const node = this.#nodes.get(known)!;
      node.names.add(key);
      this.#byName.set(key, known);
      node.lookups++;
      return known;
    }
    const id = this.#nextId++;
    this.#nodes.set(id, { id, ino, names: new Set([key]), lookups: 1, lastPath: '', handles: new Set() });
    this.#byName.set(key, id);
    if (ino !== undefined) this.#byIno.set(ino, id);
    return id;
  }

  /** The node id a name leads to now, if the kernel holds one. */
  find(parent: number, name: string): number | undefined {
    return this.#byName.get(keyOf(parent, name));
  }

  /** The kernel dropped `count` lookups of `id`. */
  forget(id: number, count: number): void {
    const node = this.#nodes.get(id);
    if (node === undefined || id === rootNodeId) return;
    node.lookups = Math.max(0, node.lookups - count);
    if (node.lookups > 0) return;
    this.#nodes.delete(id);
    for (const key of node.names) this.#byName.delete(key);
    if (node.ino !== undefined && this.#byIno.get(node.ino) === id) this.#byIno.delete(node.ino);
  }

  /** The name `parent`/`name` is gone (unlink, rmdir). */
  removed(parent: number, name: string): void {
    const key = keyOf(parent, name);
    const id = this.#byName.get(key);
    if (id !== undefined) this.#takeName(this.#nodes.get(id)!, key);
  }

  /** `from` was renamed to `to`: the name moves, whatever `to` named loses that name. */
  renamed(fromParent: number, fromName: string, toParent: number, toName: string): void {
    const fromKey = keyOf(fromParent, fromName);
    const toKey = keyOf(toParent, toName);
    if (fromKey === toKey) return;
    this.removed(toParent, toName);
    const id = this.#byName.get(fromKey);
    if (id === undefined) return;
    const node = this.#nodes.get(id)!;
    node.names.delete(fromKey);
    this.#byName.delete(fromKey);
    node.names.add(toKey);
    this.#byName.set(toKey, id);
  }

  opened(id: number, handle: bigint): void {
    this.#nodes.get(id)?.handles.add(handle);
  }

  released(id: number, handle: bigint): void {
    this.#nodes.get(id)?.handles.delete(handle);
  }

  /** One handle open on the node (getattr and setattr of an open, unlinked file). */
  anyHandle(id: number): bigint | undefined {
    const handles = this.#nodes.get(id)?.handles;
    if (handles === undefined || handles.size === 0) return undefined;
    return handles.values().next().value;
  }

  lookupsOf(id: number): number {
    return this.#nodes.get(id)?.lookups ?? 0;
  }

  #takeName(node: Node, key: string): void {
    if (node.names.size === 1 && node.names.has(key)) node.lastPath = this.path(node.id) ?? node.lastPath;
    node.names.delete(key);
    this.#byName.delete(key);
  }
}
