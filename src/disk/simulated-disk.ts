// A deterministic in-memory Disk for the simulator and for tests: what a crash loses is
// drawn from a seeded Random, so a failing run replays from its seed.
//
// Model (documented in README.md):
// - File data: appends and truncates are durable after the file's sync(); a crash keeps
//   a random prefix of the unsynced appends (possibly half a record: a torn write), and
//   with `reorderWriteback` may also zero whole pages of that prefix.
// - Directory entries: creates, renames and removes reach the device in the order they
//   were made (a metadata journal); syncDirectory(d) forces every pending one that
//   touches d. A crash keeps a random prefix of the pending ones. A file whose parent
//   directory did not survive is gone too.
// - A crash kills the process that used the disk: crash() returns the disk the restarted
//   process uses, and the old object (with its open files) fails every call from then
//   on, so a write still in flight in the dead process cannot touch the new run.
// - Every method returns an already settled promise; nothing waits on timers.
import { basename, dirname, posix } from 'node:path';
import { AtollError, StatusCode, assert } from '../errors/index.js';
import type { Random } from '../random/index.js';
import { byteLengthOf, piecesOf, type Disk, type DiskFile } from './disk.js';
import { diskStatusError } from './disk-error.js';
import { SimulatedFileContent } from './simulated-file-content.js';

export interface SimulatedDiskOptions {
  /** Appends that would make the files on the disk exceed this many bytes fail with NO_SPACE. */
  readonly fullAfterBytes?: number;
}

export interface CrashOptions {
  /** Zero random pages of the surviving unsynced tail too (see SimulatedFileContent). */
  readonly reorderWriteback?: boolean;
}

type SimulatedNode = { readonly kind: 'directory' } | { readonly kind: 'file'; readonly content: SimulatedFileContent };

type NamespaceOperation =
  | { readonly kind: 'link'; readonly path: string; readonly node: SimulatedNode }
  | { readonly kind: 'unlink'; readonly path: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string };

/** The state of one disk, shared by every SimulatedDisk view of it across crashes. */
class SimulatedDevice {
  /** Path -> node as the running process sees it. The root '/' always exists. */
  current = new Map<string, SimulatedNode>([['/', { kind: 'directory' }]]);
  /** Path -> node as the device holds it. File contents are shared with `current`. */
  durable = new Map<string, SimulatedNode>([['/', { kind: 'directory' }]]);
  /** Namespace changes made to `current` and not yet to `durable`, oldest first. */
  pending: NamespaceOperation[] = [];
  fullAfterBytes: number;

  constructor(fullAfterBytes: number) {
    this.fullAfterBytes = fullAfterBytes;
  }
}

function applyOperation(namespace: Map<string, SimulatedNode>, operation: NamespaceOperation): void {
  switch (operation.kind) {
    case 'link':
      namespace.set(operation.path, operation.node);
      return;
    case 'unlink':
      namespace.delete(operation.path);
      return;
    case 'rename': {
      const node = namespace.get(operation.from);
      // The source may be missing in the durable view when its own create was never synced
      // but this rename was forced by a sync of another directory: then nothing moves.
      if (node === undefined) return;
      namespace.delete(operation.from);
      namespace.set(operation.to, node);
      return;
    }
  }
}

function touchesDirectory(operation: NamespaceOperation, directory: string): boolean {
  if (operation.kind === 'rename') return dirname(operation.from) === directory || dirname(operation.to) === directory;
  return dirname(operation.path) === directory;
}

function normalizePath(path: string): string {
  assert(path.startsWith('/'), () => `simulated disk: path must be absolute: ${path}`);
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

class SimulatedDiskFile implements DiskFile {
  private closed = false;

  constructor(
    private readonly disk: SimulatedDisk,
    readonly path: string,
    private readonly content: SimulatedFileContent,
    private readonly appendable: boolean,
  ) {}

  async size(): Promise<number> {
    this.check('size of');
    return this.content.length;
  }

  async read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.check('read');
    assert(Number.isSafeInteger(position) && position >= 0, () => `read ${this.path}: bad position ${position}`);
    assert(Number.isSafeInteger(length) && length >= 0, () => `read ${this.path}: bad length ${length}`);
    assert(into === undefined || into.byteLength >= length, () => `read ${this.path}: a buffer of ${into!.byteLength} bytes for ${length}`);
    const bytes = this.content.read(position, length);
    if (into === undefined) return bytes;
    into.set(bytes);
    return into.subarray(0, bytes.byteLength);
  }

  async append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.check('append to');
    assert(this.appendable, () => `append to ${this.path}: opened for reading only`);
    this.disk.checkSpace(this.path, byteLengthOf(bytes));
    for (const piece of piecesOf(bytes)) this.content.append(piece);
  }

  async write(position: number, bytes: Uint8Array): Promise<void> {
    this.check('write to');
    assert(this.appendable, () => `write to ${this.path}: opened for reading only`);
    assert(
      Number.isSafeInteger(position) && position >= 0 && position + bytes.byteLength <= this.content.length,
      () => `write to ${this.path}: [${position}, ${position + bytes.byteLength}) is outside the size ${this.content.length}`,
    );
    this.content.write(position, bytes);
  }

  async sync(): Promise<void> {
    this.check('fdatasync');
    this.content.sync();
  }

  async truncate(length: number): Promise<void> {
    this.check('truncate');
    assert(Number.isSafeInteger(length) && length >= 0 && length <= this.content.length, () => `truncate ${this.path}: ${length} outside [0, ${this.content.length}]`);
    this.content.truncate(length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.disk.forgetOpenFile(this);
  }

  private check(action: string): void {
    assert(!this.closed, () => `${action} ${this.path}: the file is closed`);
    this.disk.checkAlive(action, this.path);
  }
}

export class SimulatedDisk implements Disk {
  private readonly device: SimulatedDevice;
  private crashed = false;
  private readonly openFiles = new Set<SimulatedDiskFile>();

  constructor(options: SimulatedDiskOptions = {}, device?: SimulatedDevice) {
    const fullAfterBytes = options.fullAfterBytes ?? Number.MAX_SAFE_INTEGER;
    assert(Number.isSafeInteger(fullAfterBytes) && fullAfterBytes >= 0, () => `simulated disk: bad fullAfterBytes ${fullAfterBytes}`);
    this.device = device ?? new SimulatedDevice(fullAfterBytes);
  }

  async makeDirectory(path: string): Promise<void> {
    const normalized = normalizePath(path);
    this.checkAlive('make directory', normalized);
    const missing: string[] = [];
    for (let walk = normalized; ; walk = dirname(walk)) {
      const node = this.device.current.get(walk);
      if (node?.kind === 'directory') break;
      if (node !== undefined) throw diskStatusError(StatusCode.NOT_DIR, 'make directory', normalized, `${walk} is a file`);
      missing.push(walk);
    }
    for (const directory of missing.reverse()) this.link(directory, { kind: 'directory' });
  }

  async list(path: string): Promise<string[]> {
    const normalized = normalizePath(path);
    this.checkAlive('list', normalized);
    this.expectDirectory('list', normalized);
    const names: string[] = [];
    for (const candidate of this.device.current.keys()) {
      if (candidate !== '/' && dirname(candidate) === normalized) names.push(basename(candidate));
    }
    return names.sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  }

  async openForAppend(path: string): Promise<DiskFile> {
    const normalized = normalizePath(path);
    this.checkAlive('open for append', normalized);
    let node = this.device.current.get(normalized);
    if (node === undefined) {
      this.expectDirectory('open for append', dirname(normalized));
      node = { kind: 'file', content: new SimulatedFileContent() };
      this.link(normalized, node);
    }
    return this.openNode('open for append', normalized, node, true);
  }

  async openForRead(path: string): Promise<DiskFile> {
    const normalized = normalizePath(path);
    this.checkAlive('open for read', normalized);
    const node = this.device.current.get(normalized);
    if (node === undefined) throw diskStatusError(StatusCode.NOT_FOUND, 'open for read', normalized, 'no such file');
    return this.openNode('open for read', normalized, node, false);
  }

  async rename(from: string, to: string): Promise<void> {
    const source = normalizePath(from);
    const target = normalizePath(to);
    this.checkAlive(`rename to ${target}`, source);
    const node = this.device.current.get(source);
    if (node === undefined) throw diskStatusError(StatusCode.NOT_FOUND, `rename to ${target}`, source, 'no such file');
    // Directories are not renamed by any caller; supporting them would mean moving subtrees.
    if (node.kind !== 'file') throw diskStatusError(StatusCode.NOT_SUPPORTED, `rename to ${target}`, source, 'only files are renamed on a simulated disk');
    this.expectDirectory(`rename ${source} to`, dirname(target));
    if (this.device.current.get(target)?.kind === 'directory') throw diskStatusError(StatusCode.IS_DIR, `rename ${source} to`, target, 'target is a directory');
    if (source === target) return;
    this.record({ kind: 'rename', from: source, to: target });
  }

  async remove(path: string): Promise<void> {
    const normalized = normalizePath(path);
    this.checkAlive('remove', normalized);
    const node = this.device.current.get(normalized);
    if (node === undefined) throw diskStatusError(StatusCode.NOT_FOUND, 'remove', normalized, 'no such file or directory');
    assert(normalized !== '/', 'simulated disk: remove of the root');
    if (node.kind === 'directory' && this.hasChildren(normalized)) {
      throw diskStatusError(StatusCode.NOT_EMPTY, 'remove', normalized, 'directory not empty');
    }
    this.record({ kind: 'unlink', path: normalized });
  }

  async syncDirectory(path: string): Promise<void> {
    const normalized = normalizePath(path);
    this.checkAlive('fsync directory', normalized);
    this.expectDirectory('fsync directory', normalized);
    // The journal commits in order: forcing this directory's changes forces every
    // earlier pending change as well, so the durable namespace stays a prefix.
    let last = -1;
    this.device.pending.forEach((operation, position) => {
      if (touchesDirectory(operation, normalized)) last = position;
    });
    for (const operation of this.device.pending.splice(0, last + 1)) applyOperation(this.device.durable, operation);
  }

  /**
   * Power loss: keeps a random prefix of the pending namespace changes and of each file's
   * unsynced appends. Returns the disk of the restarted process; this one is dead.
   */
  crash(random: Random, options: CrashOptions = {}): SimulatedDisk {
    this.checkAlive('crash', '/');
    this.crashed = true;
    this.openFiles.clear();
    const device = this.device;
    const survivingOperations = random.nextInt(device.pending.length + 1);
    for (const operation of device.pending.slice(0, survivingOperations)) applyOperation(device.durable, operation);
    device.pending = [];
    // Entries whose directory did not survive are unreachable, hence gone.
    const paths = [...device.durable.keys()].sort((left, right) => left.length - right.length);
    for (const path of paths) {
      if (path !== '/' && device.durable.get(dirname(path))?.kind !== 'directory') device.durable.delete(path);
    }
    // Contents are visited in path order so that the draws, hence the run, are deterministic.
    for (const path of [...device.durable.keys()].sort()) {
      const node = device.durable.get(path)!;
      if (node.kind === 'file') node.content.crash(random, { reorderWriteback: options.reorderWriteback ?? false });
    }
    device.current = new Map(device.durable);
    return new SimulatedDisk({}, device);
  }

  /** Flips one byte of the durable data of a file, as media corruption would. */
  corrupt(path: string, position: number): void {
    const normalized = normalizePath(path);
    const node = this.device.current.get(normalized);
    assert(node?.kind === 'file', () => `corrupt ${normalized}: no such file`);
    node.content.corrupt(position);
  }

  /** Changes the capacity, e.g. to let a test free up space again. */
  setFullAfterBytes(bytes: number): void {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, () => `simulated disk: bad fullAfterBytes ${bytes}`);
    this.device.fullAfterBytes = bytes;
  }

  /** Bytes of all files the running process sees. */
  bytesUsed(): number {
    let total = 0;
    for (const node of this.device.current.values()) if (node.kind === 'file') total += node.content.length;
    return total;
  }

  /** Files opened and not closed: tests check that nothing leaks. */
  openFileCount(): number {
    return this.openFiles.size;
  }

  /** Whether the device holds everything the process sees: no unsynced data or entries. */
  isFullySynced(): boolean {
    if (this.device.pending.length > 0) return false;
    for (const node of this.device.current.values()) if (node.kind === 'file' && node.content.unsynced) return false;
    return true;
  }

  /** @internal for SimulatedDiskFile */
  checkAlive(action: string, path: string): void {
    if (this.crashed) throw new AtollError(StatusCode.UNAVAILABLE, `${action} ${path}: the simulated disk crashed; use the disk crash() returned`);
  }

  /** @internal for SimulatedDiskFile */
  checkSpace(path: string, bytes: number): void {
    const used = this.bytesUsed();
    if (used + bytes > this.device.fullAfterBytes) {
      throw diskStatusError(StatusCode.NO_SPACE, 'append to', path, `no space left: ${used} of ${this.device.fullAfterBytes} bytes used, ${bytes} more asked`);
    }
  }

  /** @internal for SimulatedDiskFile */
  forgetOpenFile(file: SimulatedDiskFile): void {
    this.openFiles.delete(file);
  }

  private openNode(action: string, path: string, node: SimulatedNode, appendable: boolean): DiskFile {
    if (node.kind !== 'file') throw diskStatusError(StatusCode.IS_DIR, action, path, 'is a directory');
    const file = new SimulatedDiskFile(this, path, node.content, appendable);
    this.openFiles.add(file);
    return file;
  }

  private link(path: string, node: SimulatedNode): void {
    this.record({ kind: 'link', path, node });
  }

  private record(operation: NamespaceOperation): void {
    applyOperation(this.device.current, operation);
    this.device.pending.push(operation);
  }

  private expectDirectory(action: string, path: string): void {
    const node = this.device.current.get(path);
    if (node === undefined) throw diskStatusError(StatusCode.NOT_FOUND, action, path, 'no such directory');
    if (node.kind !== 'directory') throw diskStatusError(StatusCode.NOT_DIR, action, path, 'not a directory');
  }

  private hasChildren(directory: string): boolean {
    for (const candidate of this.device.current.keys()) {
      if (candidate !== '/' && dirname(candidate) === directory) return true;
    }
    return false;
  }
}
