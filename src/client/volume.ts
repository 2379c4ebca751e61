// The volume SDK: `await Volume.open({ masters, volume, clusterSecret })` gives an object
// with an API close to node:fs/promises on one AtollFS volume. Paths resolve from the
// volume's root through the meta partitions (by inode range) with short-TTL name and
// attribute caches; file data goes through the data client (src/dataclient) with
// write-behind and read-ahead (open-file.ts); opens are recorded in sessions
// (sessions.ts) so that an unlinked file stays readable until its last close.
//
// Errors are AtollErrors shaped as node:fs's (fs-error.ts): `code` 'ENOENT', `errno`,
// `syscall`, `path`.
import { constants as fsConstants } from 'node:fs';
import { hostname } from 'node:os';
import { DataClient, type DataClientLimits, type ExtentKey } from '../dataclient/index.js';
import { AtollError, StatusCode, assert, isAtollError } from '../errors/index.js';
import { MasterClient } from '../masterclient/index.js';
import { MetaClient, renameAcrossPartitions, type MetaClientLimits } from '../metaclient/index.js';
import {
  AppendExtentsRequest,
  CreateInodeRequest,
  DentryRequest,
  GetInodeRequest,
  InodeLinkRequest,
  InodeResponse,
  InodeType,
  LinkRequest,
  ListTrashRequest,
  LookupRequest,
  MetaNode,
  PurgeTrashRequest,
  ReadDirRequest,
  RenameRequest,
  RestoreTrashRequest,
  SetattrField,
  SetattrRequest,
  SetXattrRequest,
  UnlinkRequest,
  XattrFlag,
  XattrPresence,
  XattrRequest,
  type Dentry,
  type Inode,
  type TrashEntry,
} from '../proto/generated/metanode.js';
import { RpcClient } from '../rpc/index.js';
import { asFs } from './fs-error.js';
import { buildVolumeLimits, type VolumeLimits } from './limits.js';
import { OpenFile } from './open-file.js';
import { BufferBudget } from './buffer-budget.js';
import { FileHandle, parseOpenFlags } from './file-handle.js';
import { joinComponents, pathComponents, splitLast } from './paths.js';
import { SessionKeeper } from './sessions.js';
import { Dirent, Stats, statBlockBytes } from './stats.js';
import { createReadStream, createWriteStream, type ReadStreamOptions, type WriteStreamOptions } from './streams.js';
import type { Readable, Writable } from 'node:stream';
import { TtlCache } from './ttl-cache.js';
import { mutateSettling } from './settle.js';
import { randomInt } from 'node:crypto';

export const rootIno = 1;
const mutation = { mutation: true };
const read = { mutation: false };
const rootWaitMs = 30_000;
// Linux's XATTR_NAME_MAX, which partitions keep as their own limit (NamespaceLimits).
const xattrNameBytesMax = 255;

export interface VolumeOptions {
  /** Master service addresses (host:port), as a list or comma-separated. */
  readonly masters: readonly string[] | string;
  readonly volume: string;
  /** The cluster secret every RPC peer authenticates with. */
  readonly clusterSecret: string | Uint8Array;
  /** When given, checked against the volume's access key at open. */
  readonly accessKey?: string;
  /** Owner of what this client creates (default: this process's uid and gid). */
  readonly uid?: number;
  readonly gid?: number;
  /** Permission bits taken away from the mode of what this client creates (default 0o022, as a shell's umask). */
  readonly umask?: number;
  /** Who holds the sessions, for operators (default: host and pid). */
  readonly clientInfo?: string;
  readonly limits?: Partial<VolumeLimits>;
  readonly metaLimits?: Partial<MetaClientLimits>;
  readonly dataLimits?: Partial<DataClientLimits>;
  /** An RPC client to share (not closed by close()); otherwise one is made. */
  readonly rpc?: RpcClient;
}

export interface StatfsResult {
  readonly type: number;
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

export interface MkdirOptions {
  readonly recursive?: boolean;
  readonly mode?: number;
  /** Owner of the directories made; default the Volume's (`uid`, `gid` options). */
  readonly owner?: Owner;
}

/** Who a new inode belongs to (the FUSE layer passes the calling process's ids). */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export interface RmOptions {
  readonly recursive?: boolean;
  readonly force?: boolean;
}

type Encoding = BufferEncoding;

/** What the client reads of GET /api/v1/volumes/<name>. */
interface VolumeRecordBody {
  readonly volume: { readonly capacityBytes: number; readonly accessKey?: string };
  readonly metaPartitions: ReadonlyArray<{ readonly inodeCount?: number }>;
  readonly dataPartitions: ReadonlyArray<{ readonly usedBytes?: number }>;
}
type Data = string | Uint8Array;

/** Magic number statfs reports for the file system type ("ATOL"). */
const statfsType = 0x41544f4c;

export class Volume {
  readonly name: string;
  readonly limits: VolumeLimits;
  readonly meta: MetaClient;
  readonly data: DataClient;
  readonly #rpc: RpcClient;
  readonly #ownsRpc: boolean;
  readonly #masterClient: MasterClient;
  readonly #sessions: SessionKeeper;
  readonly #attrs: TtlCache<number, Inode>;
  readonly #names: TtlCache<string, Dentry>;
  readonly #open = new Map<number, OpenFile>();
  readonly #handles = new Set<FileHandle>();
  readonly #budget: BufferBudget;
  readonly #uid: number;
  readonly #gid: number;
  readonly #umask: number;
  #dev = 0;
  #closed = false;

  private constructor(options: VolumeOptions, rpc: RpcClient, ownsRpc: boolean, masterClient: MasterClient) {
    this.name = options.volume;
    this.limits = buildVolumeLimits(options.limits);
    this.#rpc = rpc;
    this.#ownsRpc = ownsRpc;
    this.#masterClient = masterClient;
    this.meta = new MetaClient({ rpc, masterClient, volume: options.volume, limits: options.metaLimits });
    this.data = new DataClient({ rpc, masterClient, volume: options.volume, limits: options.dataLimits });
    this.#sessions = new SessionKeeper(this.meta, this.limits.sessionLeaseSec, options.clientInfo ?? `${hostname()} pid ${process.pid}`, this.limits.openRecordDeferMs);
    this.#attrs = new TtlCache(this.limits.attrCacheTtlMs, this.limits.attrCacheEntriesMax);
    this.#names = new TtlCache(this.limits.dentryCacheTtlMs, this.limits.dentryCacheEntriesMax);
    this.#uid = options.uid ?? process.getuid?.() ?? 0;
    this.#gid = options.gid ?? process.getgid?.() ?? 0;
    this.#umask = (options.umask ?? 0o022) & 0o777;
    this.#budget = new BufferBudget(this.limits.bufferBytesMax);
  }

  /** Connects to the masters, checks the volume (and its access key) and waits for its root. */
  static async open(options: VolumeOptions): Promise<Volume> {
    const masters = typeof options.masters === 'string' ? options.masters.split(',').map((address) => address.trim()).filter((address) => address !== '') : [...options.masters];
    if (masters.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'Volume.open: no master address given');
    if (typeof options.volume !== 'string' || options.volume === '') throw new AtollError(StatusCode.INVALID_ARGUMENT, 'Volume.open: no volume name given');
    const ownsRpc = options.rpc === undefined;
    const rpc = options.rpc ?? new RpcClient({ secret: options.clusterSecret, instance: 'atoll-sdk' });
    const masterClient = new MasterClient({ masters, rpc });
    masterClient.start();
    const volume = new Volume(options, rpc, ownsRpc, masterClient);
    try {
      const view = await volume.meta.refreshView();
      volume.#dev = view.volumeId;
      if (options.accessKey !== undefined) await volume.#checkAccessKey(options.accessKey);
      await volume.#waitForRoot();
      volume.#sessions.start();
      return volume;
    } catch (error) {
      await volume.close().catch(() => undefined);
      throw error;
    }
  }

  /** Flushes and closes every open handle, closes the sessions and the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const handle of [...this.#handles]) await handle.close().catch((error: unknown) => errors.push(error));
    await this.#sessions.close().catch(() => undefined);
    await this.#masterClient.stop().catch(() => undefined);
    if (this.#ownsRpc) await this.#rpc.close().catch(() => undefined);
    if (errors.length > 0) throw errors[0];
  }

  // ---------------------------------------------------------------- files

  /** Opens a file: flags as node:fs ('r', 'r+', 'w', 'wx', 'a', ... or O_* numbers). */
  open(path: string, flags: string | number = 'r', mode = 0o666): Promise<FileHandle> {
    return asFs('open', path, async () => {
      this.#checkOpen();
      if (this.#handles.size >= this.limits.openHandlesMax) throw new AtollError(StatusCode.OVERLOADED, `more than ${this.limits.openHandlesMax} open handles`);
      const parsed = parseOpenFlags(flags);
      let inode: Inode;
      let created = false;
      if (parsed.create) {
        const { parentIno, name } = await this.#parentOf(path, 'open');
        const existing = await this.#lookupOrNull(parentIno, name);
        if (existing !== null && parsed.exclusive) throw new AtollError(StatusCode.EXISTS, 'file already exists');
        if (existing === null) {
          try {
            inode = await this.#create(parentIno, name, InodeType.INODE_FILE, mode & 0o7777);
            created = true;
          } catch (error) {
            if (!isAtollError(error, StatusCode.EXISTS) || parsed.exclusive) throw error;
            inode = await this.#inodeOf(await this.#resolve(path, true));
          }
        } else {
          inode = await this.#inodeOf(await this.#follow(existing, [], true));
        }
      } else {
        inode = await this.#freshInode(await this.#resolve(path, true));
      }
      if (inode.type === InodeType.INODE_DIRECTORY && parsed.write) throw new AtollError(StatusCode.IS_DIR, 'is a directory');
      return this.#openInode(inode, parsed, created, path);
    });
  }

  /**
   * Creates a new file and opens it read-write, without looking the name up first (the
   * FUSE layer's create: the kernel has just found the name absent). EEXIST if it exists.
   */
  createFile(path: string, mode = 0o666, owner?: Owner): Promise<FileHandle> {
    return asFs('open', path, async () => {
      this.#checkOpen();
      if (this.#handles.size >= this.limits.openHandlesMax) throw new AtollError(StatusCode.OVERLOADED, `more than ${this.limits.openHandlesMax} open handles`);
      const { parentIno, name } = await this.#parentOf(path, 'open');
      const inode = await this.#create(parentIno, name, InodeType.INODE_FILE, mode & 0o7777, undefined, 0, owner);
      return this.#openInode(inode, parseOpenFlags(fsConstants.O_RDWR), true, path);
    });
  }

  /** A handle on an inode already resolved (the FUSE layer opens by path it looked up). */
  async openInode(ino: number, flags: string | number = 'r'): Promise<FileHandle> {
    this.#checkOpen();
    const parsed = parseOpenFlags(flags);
    const inode = await this.#freshInode(ino);
    return this.#openInode(inode, { ...parsed, create: false }, false, `#${ino}`);
  }

  async readFile(path: string, options?: { encoding?: Encoding | null } | Encoding | null): Promise<Buffer | string> {
    const encoding = typeof options === 'string' ? options : options?.encoding ?? null;
    const handle = await this.open(path, 'r');
    try {
      const bytes = await asFs('read', path, () => handle.readAll());
      return encoding === null ? bytes : bytes.toString(encoding);
    } finally {
      await handle.close();
    }
  }

  async writeFile(path: string, data: Data, options?: { mode?: number; flag?: string; encoding?: Encoding } | Encoding): Promise<void> {
    const settings = typeof options === 'string' ? { encoding: options } : options ?? {};
    const bytes = typeof data === 'string' ? Buffer.from(data, settings.encoding ?? 'utf8') : data;
    const handle = await this.open(path, settings.flag ?? 'w', settings.mode ?? 0o666);
    try {
      await asFs('write', path, () => handle.write(bytes, 0, bytes.byteLength, null).then(() => undefined));
    } finally {
      await handle.close();
    }
  }

  appendFile(path: string, data: Data, options?: { mode?: number; encoding?: Encoding } | Encoding): Promise<void> {
    const settings = typeof options === 'string' ? { encoding: options } : options ?? {};
    return this.writeFile(path, data, { ...settings, flag: 'a' });
  }

  truncate(path: string, length = 0): Promise<void> {
    return asFs('truncate', path, async () => {
      const ino = await this.#resolve(path, true);
      const open = this.#open.get(ino);
      if (open !== undefined) return open.truncate(length);
      this.#remember(await this.#setattr(ino, { valid: SetattrField.SETATTR_SIZE, size: length }));
    });
  }

  createReadStream(path: string, options?: ReadStreamOptions): Readable {
    return createReadStream(this, path, options);
  }

  createWriteStream(path: string, options?: WriteStreamOptions): Writable {
    return createWriteStream(this, path, options);
  }

  // ---------------------------------------------------------------- attributes

  stat(path: string): Promise<Stats> {
    return asFs('stat', path, async () => this.#stats(await this.#inodeOf(await this.#resolve(path, true))));
  }

  lstat(path: string): Promise<Stats> {
    return asFs('lstat', path, async () => this.#stats(await this.#inodeOf(await this.#resolve(path, false))));
  }

  /** Stats of an inode by number (the FUSE layer's getattr of an open file). */
  async statInode(ino: number, options: { fresh?: boolean } = {}): Promise<Stats> {
    return this.#stats(options.fresh === true ? await this.#freshInode(ino) : await this.#inodeOf(ino));
  }

  /** The inode number a path names (symbolic links followed unless `follow` is false). */
  resolve(path: string, follow = true): Promise<number> {
    return asFs('lookup', path, () => this.#resolve(path, follow));
  }

  /** Checks that the path exists (mode F_OK); permission bits are the FUSE layer's concern. */
  access(path: string): Promise<void> {
    return asFs('access', path, async () => {
      await this.#resolve(path, true);
    });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.access(path);
      return true;
    } catch (error) {
      if (isAtollError(error, StatusCode.NOT_FOUND)) return false;
      throw error;
    }
  }

  chmod(path: string, mode: number): Promise<void> {
    return asFs('chmod', path, async () => {
      this.#checkUint(mode, 'mode');
      this.#remember(await this.#setattr(await this.#resolve(path, true), { valid: SetattrField.SETATTR_MODE, mode: mode & 0o7777 }));
    });
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return asFs('chown', path, async () => this.#chown(await this.#resolve(path, true), uid, gid));
  }

  lchown(path: string, uid: number, gid: number): Promise<void> {
    return asFs('lchown', path, async () => this.#chown(await this.#resolve(path, false), uid, gid));
  }

  /** Times as Date, seconds (number) or [sec, nsec]. */
  utimes(path: string, atime: Date | number | readonly [number, number], mtime: Date | number | readonly [number, number]): Promise<void> {
    return asFs('utimes', path, async () => {
      const [atimeSec, atimeNsec] = timeSpec(atime);
      const [mtimeSec, mtimeNsec] = timeSpec(mtime);
      const ino = await this.#resolve(path, true);
      await this.#open.get(ino)?.flush();
      this.#remember(await this.#setattr(ino, { valid: SetattrField.SETATTR_ATIME | SetattrField.SETATTR_MTIME, atimeSec, atimeNsec, mtimeSec, mtimeNsec }));
    });
  }

  /** setattr by inode, for the FUSE layer: only the fields given change. */
  async setattrInode(ino: number, fields: { mode?: number; uid?: number; gid?: number; size?: number; atime?: readonly [number, number]; mtime?: readonly [number, number] }): Promise<Stats> {
    if (fields.size !== undefined) {
      const open = this.#open.get(ino);
      if (open !== undefined) {
        await open.truncate(fields.size);
        fields = { ...fields, size: undefined };
      }
    }
    // Buffered writes published later would stamp their own mtime over the one set here
    // (cp -p sets times before it closes the file): publish them first.
    if (fields.atime !== undefined || fields.mtime !== undefined) await this.#open.get(ino)?.flush();
    let valid = 0;
    const request: Partial<SetattrRequest> = {};
    if (fields.mode !== undefined) ((valid |= SetattrField.SETATTR_MODE), (request.mode = fields.mode & 0o7777));
    if (fields.uid !== undefined) ((valid |= SetattrField.SETATTR_UID), (request.uid = fields.uid));
    if (fields.gid !== undefined) ((valid |= SetattrField.SETATTR_GID), (request.gid = fields.gid));
    if (fields.size !== undefined) ((valid |= SetattrField.SETATTR_SIZE), (request.size = fields.size));
    if (fields.atime !== undefined) ((valid |= SetattrField.SETATTR_ATIME), ([request.atimeSec, request.atimeNsec] = fields.atime));
    if (fields.mtime !== undefined) ((valid |= SetattrField.SETATTR_MTIME), ([request.mtimeSec, request.mtimeNsec] = fields.mtime));
    if (valid === 0) return this.statInode(ino);
    const inode = await this.#setattr(ino, { ...request, valid });
    this.#remember(inode);
    // An open file's handles answer fstat from their own copy of the inode.
    this.#open.get(ino)?.refreshAttributes(inode);
    return this.#stats(inode);
  }

  // ---------------------------------------------------------------- directories

  readdir(path: string): Promise<string[]>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  readdir(path: string, options?: { withFileTypes?: boolean }): Promise<string[] | Dirent[]>;
  readdir(path: string, options: { withFileTypes?: boolean } = {}): Promise<string[] | Dirent[]> {
    return asFs('scandir', path, async () => {
      const ino = await this.#resolve(path, true);
      const entries: Dirent[] = [];
      for await (const page of this.#readdirPages(ino, false)) for (const dentry of page.entries) entries.push(new Dirent(dentry.name, dentry.type, path, dentry.ino));
      return options.withFileTypes === true ? entries : entries.map((entry) => entry.name);
    });
  }

  /** Directory entries with their stats (readdirplus), for `ls -l` and FUSE. */
  readdirPlus(path: string): Promise<Array<{ name: string; stats: Stats | null; type: InodeType; ino: number }>> {
    return asFs('scandir', path, async () => this.#readdirPlusOf(await this.#resolve(path, true)));
  }

  mkdir(path: string, options: MkdirOptions | number = {}): Promise<string | undefined> {
    const settings = typeof options === 'number' ? { mode: options } : options;
    const mode = (settings.mode ?? 0o777) & 0o7777;
    return asFs('mkdir', path, async () => {
      if (settings.recursive !== true) {
        const { parentIno, name } = await this.#parentOf(path, 'mkdir');
        await this.#create(parentIno, name, InodeType.INODE_DIRECTORY, mode, undefined, 0, settings.owner);
        return undefined;
      }
      const components = pathComponents(path, 'mkdir');
      let current = rootIno;
      let first: string | undefined;
      for (let index = 0; index < components.length; index++) {
        const name = components[index]!;
        if (name === '..') {
          current = await this.#parentDirectory(current);
          continue;
        }
        const existing = await this.#lookupOrNull(current, name);
        if (existing !== null) {
          const ino = await this.#follow(existing, [], true);
          const inode = await this.#inodeOf(ino);
          if (inode.type !== InodeType.INODE_DIRECTORY) throw new AtollError(index === components.length - 1 ? StatusCode.EXISTS : StatusCode.NOT_DIR, `'${joinComponents(components.slice(0, index + 1))}' exists and is not a directory`);
          current = ino;
          continue;
        }
        try {
          current = (await this.#create(current, name, InodeType.INODE_DIRECTORY, mode, undefined, 0, settings.owner)).ino;
          first ??= joinComponents(components.slice(0, index + 1));
        } catch (error) {
          if (!isAtollError(error, StatusCode.EXISTS)) throw error;
          current = await this.#follow((await this.#lookupOrNull(current, name))!, [], true);
        }
      }
      return first;
    });
  }

  rmdir(path: string): Promise<void> {
    return asFs('rmdir', path, async () => {
      const { parentIno, name } = await this.#parentOf(path, 'rmdir');
      await this.#removeEntry(parentIno, name, true);
    });
  }

  unlink(path: string): Promise<void> {
    return asFs('unlink', path, async () => {
      const { parentIno, name } = await this.#parentOf(path, 'unlink');
      await this.#removeEntry(parentIno, name, false);
    });
  }

  /** As node:fs rm: files, and with `recursive` whole trees; `force` ignores a missing path. */
  rm(path: string, options: RmOptions = {}): Promise<void> {
    return asFs('rm', path, async () => {
      let ino: number;
      let parentIno: number;
      let name: string;
      try {
        ({ parentIno, name } = await this.#parentOf(path, 'rm'));
        ino = (await this.#lookup(parentIno, name)).ino;
      } catch (error) {
        if (options.force === true && isAtollError(error, StatusCode.NOT_FOUND)) return;
        throw error;
      }
      const inode = await this.#inodeOf(ino);
      if (inode.type !== InodeType.INODE_DIRECTORY) return this.#removeEntry(parentIno, name, false);
      if (options.recursive !== true) throw new AtollError(StatusCode.IS_DIR, 'is a directory (use recursive)');
      const budget = { entries: this.limits.treeEntriesMax };
      await this.#removeTree(ino, budget);
      await this.#removeEntry(parentIno, name, true);
    });
  }

  rename(oldPath: string, newPath: string): Promise<void> {
    return asFs(
      'rename',
      oldPath,
      async () => {
        await this.#sessions.flushPending();
        const source = await this.#parentOf(oldPath, 'rename');
        const target = await this.#parentOf(newPath, 'rename');
        const sourcePartition = (await this.meta.partitionOf(source.parentIno)).partitionId;
        const targetPartition = (await this.meta.partitionOf(target.parentIno)).partitionId;
        this.#forgetName(source.parentIno, source.name);
        this.#forgetName(target.parentIno, target.name);
        if (sourcePartition === targetPartition) {
          const answer = await this.#settling(
            () =>
              this.meta.call(
                MetaNode.rename,
                RenameRequest.create({ partitionId: sourcePartition, sourceParentIno: source.parentIno, sourceName: source.name, targetParentIno: target.parentIno, targetName: target.name }),
                mutation,
              ),
            // After a lost answer: the source gone and the target there is this rename done.
            async (refusal) => {
              if (refusal.status !== StatusCode.NOT_FOUND || (await this.#lookupOrNull(source.parentIno, source.name)) !== null) return undefined;
              this.#forgetName(target.parentIno, target.name);
              const moved = await this.#lookupOrNull(target.parentIno, target.name);
              return moved === null ? undefined : { moved, replaced: undefined };
            },
          );
          if (answer.moved !== undefined) this.#attrs.delete(answer.moved.ino);
          // A replaced inode held by another partition loses its link there: the partition owes it (link-drops.ts).
          if (answer.replaced !== undefined) {
            this.#attrs.delete(answer.replaced.ino);
            await this.#refreshOpenLinks(answer.replaced.ino);
          }
        } else {
          const moved = await renameAcrossPartitions(this.meta, {
            sourcePartitionId: sourcePartition,
            sourceParentIno: source.parentIno,
            sourceName: source.name,
            targetPartitionId: targetPartition,
            targetParentIno: target.parentIno,
            targetName: target.name,
          });
          this.#attrs.delete(moved.ino);
        }
        this.#attrs.delete(source.parentIno);
        this.#attrs.delete(target.parentIno);
      },
      newPath,
    );
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return asFs(
      'link',
      existingPath,
      async () => {
        const ino = await this.#resolve(existingPath, false);
        const { parentIno, name } = await this.#parentOf(newPath, 'link');
        const inodePartition = (await this.meta.partitionOf(ino)).partitionId;
        const parentPartition = (await this.meta.partitionOf(parentIno)).partitionId;
        if (inodePartition === parentPartition) {
          const answer = await this.#settling(
            () => this.meta.call(MetaNode.link, LinkRequest.create({ partitionId: parentPartition, ino, parentIno, name }), mutation),
            // After a lost answer: the new name naming this inode is this link done.
            async (refusal) => {
              if (refusal.status !== StatusCode.EXISTS) return undefined;
              this.#forgetName(parentIno, name);
              return (await this.#lookup(parentIno, name)).ino === ino ? { inode: undefined, dentry: undefined } : undefined;
            },
          );
          if (answer.inode !== undefined) this.#remember(answer.inode);
        } else {
          const inode = (await this.meta.call(MetaNode.addLink, InodeLinkRequest.create({ partitionId: inodePartition, ino }), mutation)).inode;
          try {
            await this.meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: parentPartition, parentIno, name, ino, type: inode?.type ?? InodeType.INODE_FILE }), mutation);
          } catch (error) {
            await this.meta.call(MetaNode.dropLink, InodeLinkRequest.create({ partitionId: inodePartition, ino }), mutation).catch(() => undefined);
            throw error;
          }
          this.#attrs.delete(ino);
        }
        this.#attrs.delete(parentIno);
        await this.#refreshOpenLinks(ino);
      },
      newPath,
    );
  }

  symlink(target: string, path: string, owner?: Owner): Promise<void> {
    return asFs('symlink', path, async () => {
      if (typeof target !== 'string' || target.length === 0 || target.includes('\0')) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'the link target must be a non-empty string without NUL');
      const { parentIno, name } = await this.#parentOf(path, 'symlink');
      await this.#create(parentIno, name, InodeType.INODE_SYMLINK, 0o777, Buffer.from(target), 0, owner);
    });
  }

  readlink(path: string): Promise<string> {
    return asFs('readlink', path, async () => {
      const inode = await this.#inodeOf(await this.#resolve(path, false));
      if (inode.type !== InodeType.INODE_SYMLINK) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'not a symbolic link');
      return Buffer.from(inode.symlinkTarget).toString();
    });
  }

  /** A special file (FIFO, socket, device): `mode` carries its S_IF* kind. */
  mknod(path: string, mode: number, rdev = 0): Promise<void> {
    return asFs('mknod', path, async () => {
      const kind = mode & fsConstants.S_IFMT;
      if (kind === fsConstants.S_IFDIR || kind === fsConstants.S_IFLNK) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'mknod makes files and special files; use mkdir or symlink');
      const { parentIno, name } = await this.#parentOf(path, 'mknod');
      const type = kind === 0 || kind === fsConstants.S_IFREG ? InodeType.INODE_FILE : InodeType.INODE_SPECIAL;
      await this.#create(parentIno, name, type, type === InodeType.INODE_FILE ? mode & 0o7777 : mode, undefined, rdev);
    });
  }

  // ---------------------------------------------------------------- xattrs

  getxattr(path: string, name: string): Promise<Buffer> {
    return asFs('getxattr', path, async () => {
      const ino = await this.#resolve(path, true);
      if (plainXattrName(name) && (await this.#holdsNoXattrs(ino))) throw new AtollError(StatusCode.NOT_FOUND, `get xattr: inode ${ino} has no attribute ${JSON.stringify(name)}`);
      const answer = await this.meta.call(MetaNode.getXattr, XattrRequest.create({ partitionId: await this.#partitionIdOf(ino), ino, name }), read);
      return Buffer.from(answer.value);
    });
  }

  setxattr(path: string, name: string, value: Data, flag: 'create' | 'replace' | 'any' = 'any'): Promise<void> {
    return asFs('setxattr', path, async () => {
      const ino = await this.#resolve(path, true);
      const bytes = typeof value === 'string' ? Buffer.from(value) : value;
      const xattrFlag = flag === 'create' ? XattrFlag.XATTR_CREATE : flag === 'replace' ? XattrFlag.XATTR_REPLACE : XattrFlag.XATTR_ANY;
      const request = SetXattrRequest.create({ partitionId: await this.#partitionIdOf(ino), ino, name, value: bytes, flag: xattrFlag });
      // Repeated after a lost answer: setting the same value again is the same, except
      // that a create refuses it (EEXIST), which is this client's own success when the
      // attribute holds exactly its value.
      const answer = await this.#settling(
        () => this.meta.call(MetaNode.setXattr, request, mutation),
        async (refusal) => {
          if (refusal.status !== StatusCode.EXISTS) return undefined;
          const held = await this.meta.call(MetaNode.getXattr, XattrRequest.create({ partitionId: request.partitionId, ino, name }), read);
          return Buffer.from(held.value).equals(Buffer.from(bytes)) ? InodeResponse.create() : undefined;
        },
      );
      // A repeat settled without the inode: whether it has attributes now is not known here.
      if (answer.inode !== undefined) this.#remember(answer.inode);
      else this.#attrs.delete(ino);
    });
  }

  listxattr(path: string): Promise<string[]> {
    return asFs('listxattr', path, async () => {
      const ino = await this.#resolve(path, true);
      if (await this.#holdsNoXattrs(ino)) return [];
      return (await this.meta.call(MetaNode.listXattr, XattrRequest.create({ partitionId: await this.#partitionIdOf(ino), ino }), read)).names;
    });
  }

  removexattr(path: string, name: string): Promise<void> {
    return asFs('removexattr', path, async () => {
      const ino = await this.#resolve(path, true);
      const request = XattrRequest.create({ partitionId: await this.#partitionIdOf(ino), ino, name });
      // Repeated after a lost answer: a repeat that finds the attribute gone is this
      // client's own success.
      const answer = await this.#settling(
        () => this.meta.call(MetaNode.removeXattr, request, mutation),
        (refusal) => Promise.resolve(refusal.status === StatusCode.NOT_FOUND ? InodeResponse.create() : undefined),
      );
      // A repeat settled without the inode: whether it has attributes now is not known here.
      if (answer.inode !== undefined) this.#remember(answer.inode);
      else this.#attrs.delete(ino);
    });
  }

  // ---------------------------------------------------------------- volume

  /** Capacity and usage of the volume, as statfs(2) reports them (blocks of 4 KiB). */
  statfs(): Promise<StatfsResult> {
    return asFs('statfs', '/', async () => {
      const body = await this.#volumeRecord();
      const capacityBytes = body.volume.capacityBytes;
      const usedBytes = body.dataPartitions.reduce((sum, partition) => sum + (partition.usedBytes ?? 0), 0);
      const files = body.metaPartitions.reduce((sum, partition) => sum + (partition.inodeCount ?? 0), 0);
      const blocks = Math.floor(capacityBytes / statBlockBytes);
      const bfree = Math.max(0, Math.floor((capacityBytes - usedBytes) / statBlockBytes));
      // Inodes: the ranges are large; report a bound well above use.
      const filesTotal = Math.max(files * 2, 1 << 24);
      return { type: statfsType, bsize: statBlockBytes, blocks, bfree, bavail: bfree, files: filesTotal, ffree: filesTotal - files, capacityBytes, usedBytes };
    });
  }

  /** Entries of the volume's trash, oldest first (`<YYYY-MM-DD-HH>/<parentIno>-<ino>-<name>`). */
  listTrash(): Promise<TrashEntry[]> {
    return asFs('trash', '/.trash', async () => {
      const entries: TrashEntry[] = [];
      const view = await this.meta.view();
      for (const partition of view.metaPartitions) {
        let after = '';
        for (let page = 0; page < this.limits.treeEntriesMax; page++) {
          const answer = await this.meta.call(MetaNode.listTrash, ListTrashRequest.create({ partitionId: partition.partitionId, after, limit: this.limits.readdirPageEntries }), read);
          entries.push(...answer.entries);
          if (!answer.more || answer.entries.length === 0) break;
          after = answer.entries[answer.entries.length - 1]!.name;
        }
      }
      return entries.sort((a, b) => a.deletedSec - b.deletedSec || (a.name < b.name ? -1 : 1));
    });
  }

  /** Puts a trash entry back at its original place, or at `targetPath`. */
  restoreTrash(name: string, targetPath?: string): Promise<void> {
    return asFs('restore', name, async () => {
      const entry = (await this.listTrash()).find((candidate) => candidate.name === name);
      if (entry === undefined) throw new AtollError(StatusCode.NOT_FOUND, 'no such trash entry');
      const partitionId = await this.#partitionIdOf(entry.parentIno);
      let targetParentIno = 0;
      let targetName = '';
      if (targetPath !== undefined) {
        const target = await this.#parentOf(targetPath, 'restore');
        targetParentIno = target.parentIno;
        targetName = target.name;
        if ((await this.#partitionIdOf(targetParentIno)) !== partitionId) throw new AtollError(StatusCode.NOT_SUPPORTED, 'restoring into a directory of another meta partition is not built');
      }
      const answer = await this.meta.call(MetaNode.restoreTrash, RestoreTrashRequest.create({ partitionId, name, targetParentIno, targetName }), mutation);
      if (answer.dentry !== undefined) this.#attrs.delete(answer.dentry.parentIno);
    });
  }

  /** Empties the trash now, whatever the retention; the number of entries purged. */
  purgeTrash(): Promise<number> {
    return asFs('purge', '/.trash', async () => {
      let purged = 0;
      const view = await this.meta.view();
      for (const partition of view.metaPartitions) {
        for (let page = 0; page < this.limits.treeEntriesMax; page++) {
          const answer = await this.meta.call(MetaNode.purgeTrash, PurgeTrashRequest.create({ partitionId: partition.partitionId, limit: this.limits.readdirPageEntries }), mutation);
          purged += answer.purged;
          if (!answer.more) break;
        }
      }
      return purged;
    });
  }

  /** Open sessions of this client, per meta partition (for status and tests). */
  sessionIds(): Promise<Map<number, number>> {
    return this.#sessions.sessionIds();
  }

  // ---------------------------------------------------------------- internals used by FileHandle

  /** @internal */
  async closeHandle(handle: FileHandle, file: OpenFile): Promise<void> {
    this.#handles.delete(handle);
    try {
      await file.flush();
    } finally {
      if (file.release()) {
        this.#open.delete(file.ino);
        file.dispose();
        this.#remember(file.inode());
      }
      await this.#sessions.recordClose(file.ino);
    }
  }

  /** @internal */
  statsOf(inode: Inode): Stats {
    return this.#stats(inode);
  }

  // ---------------------------------------------------------------- private

  async #openInode(inode: Inode, parsed: ReturnType<typeof parseOpenFlags>, created: boolean, path: string): Promise<FileHandle> {
    let file = this.#open.get(inode.ino);
    if (file === undefined) {
      file = new OpenFile(inode, this.data, { appendExtents: (ino, keys) => this.#appendExtents(ino, keys), truncate: (ino, size) => this.#truncateInode(ino, size) }, this.limits, this.#budget);
      this.#open.set(inode.ino, file);
    } else {
      file.refresh(inode);
    }
    file.retain();
    try {
      await this.#sessions.recordOpen(inode.ino);
      if (parsed.truncate && !created && inode.type === InodeType.INODE_FILE && file.size > 0) await file.truncate(0);
    } catch (error) {
      if (file.release()) {
        this.#open.delete(inode.ino);
        file.dispose();
      }
      throw error;
    }
    const handle = new FileHandle(this, file, parsed, path);
    this.#handles.add(handle);
    return handle;
  }

  async #appendExtents(ino: number, keys: readonly ExtentKey[]): Promise<Inode> {
    // Idempotent: the same keys applied again change nothing (the partition releases no
    // bytes a key still refers to), so an answer lost with a crashed leader is retried
    // instead of failing the write or close with an unknown outcome.
    const answer = await this.meta.call(MetaNode.appendExtents, AppendExtentsRequest.create({ partitionId: await this.#partitionIdOf(ino), ino, extents: keys.map((key) => ({ ...key })) }), { mutation: true, idempotent: true });
    assert(answer.inode !== undefined, 'append extents answered without the inode');
    this.#attrs.set(ino, answer.inode);
    return answer.inode;
  }

  async #truncateInode(ino: number, size: number): Promise<Inode> {
    const inode = await this.#setattr(ino, { valid: SetattrField.SETATTR_SIZE, size });
    this.#attrs.set(ino, inode);
    return inode;
  }

  async #setattr(ino: number, fields: Partial<SetattrRequest> & { valid: number }): Promise<Inode> {
    // Repeated after a lost answer like a read (a metanode leader killed mid-call must not
    // fail a chmod or ftruncate): every attempt carries the same request id, and a repeat
    // of the setattr the inode last applied is answered without being applied again, so a
    // write another client made in between is not truncated away.
    const requestId = randomInt(1, 2 ** 48);
    const answer = await this.meta.call(MetaNode.setattr, SetattrRequest.create({ ...fields, partitionId: await this.#partitionIdOf(ino), ino, requestId }), { mutation: true, idempotent: true });
    assert(answer.inode !== undefined, 'setattr answered without the inode');
    const open = this.#open.get(ino);
    if (open !== undefined) open.refresh(answer.inode);
    return answer.inode;
  }

  async #chown(ino: number, uid: number, gid: number): Promise<void> {
    let valid = 0;
    // -1 keeps the current value, as chown(2).
    if (uid !== -1) (this.#checkUint(uid, 'uid'), (valid |= SetattrField.SETATTR_UID));
    if (gid !== -1) (this.#checkUint(gid, 'gid'), (valid |= SetattrField.SETATTR_GID));
    if (valid === 0) return;
    this.#remember(await this.#setattr(ino, { valid, uid: Math.max(uid, 0), gid: Math.max(gid, 0) }));
  }

  /** Creates an inode with its entry: in the parent's partition when it can, else in another one (two steps). */
  async #create(parentIno: number, name: string, type: InodeType, mode: number, symlinkTarget?: Uint8Array, rdev = 0, owner?: Owner): Promise<Inode> {
    this.#checkOpen();
    if (owner !== undefined) (this.#checkUint(owner.uid, 'uid'), this.#checkUint(owner.gid, 'gid'));
    const parentPartition = await this.meta.partitionOf(parentIno);
    const base = { type, mode: type === InodeType.INODE_SYMLINK ? mode : mode & ~this.#umask, uid: owner?.uid ?? this.#uid, gid: owner?.gid ?? this.#gid, symlinkTarget: symlinkTarget ?? new Uint8Array(0), rdev, name };
    this.#forgetName(parentIno, name);
    this.#attrs.delete(parentIno);
    let inode: Inode;
    // A random generation tells this create from another client's if its answer is lost.
    const generation = randomInt(1, 2 ** 32);
    try {
      const answer = await this.#settling(
        () => this.meta.createInode(CreateInodeRequest.create({ ...base, generation, partitionId: parentPartition.partitionId, parentIno })),
        async (refusal) => {
          if (refusal.status !== StatusCode.EXISTS) return undefined;
          this.#forgetName(parentIno, name);
          const entry = await this.#lookup(parentIno, name);
          const made = await this.#freshInode(entry.ino);
          return made.generation === generation ? { inode: made, parent: undefined } : undefined;
        },
      );
      inode = answer.inode!;
      // The parent as the create left it: `ls -l` or the kernel's permission check on it need no round trip.
      if (answer.parent !== undefined) this.#remember(answer.parent);
    } catch (error) {
      if (!isAtollError(error, StatusCode.RANGE_FULL) && !isAtollError(error, StatusCode.READ_ONLY)) throw error;
      inode = await this.#createElsewhere(parentPartition.partitionId, parentIno, base, error);
    }
    this.#remember(inode);
    this.#names.set(nameKey(parentIno, name), { parentIno, name, ino: inode.ino, type });
    return inode;
  }

  async #createElsewhere(parentPartitionId: number, parentIno: number, base: Partial<CreateInodeRequest> & { name: string; type: InodeType }, cause: AtollError): Promise<Inode> {
    const candidates = (await this.meta.writablePartitions()).filter((partition) => partition.partitionId !== parentPartitionId);
    if (candidates.length === 0) throw cause;
    // The newest partitions (highest ranges) have the most room.
    candidates.sort((a, b) => b.inodeStart - a.inodeStart);
    let lastError: unknown = cause;
    for (const partition of candidates) {
      let inode: Inode;
      try {
        inode = (await this.meta.createInode(CreateInodeRequest.create({ ...base, partitionId: partition.partitionId, remoteParentIno: parentIno }))).inode!;
      } catch (error) {
        lastError = error;
        if (isAtollError(error, StatusCode.RANGE_FULL) || isAtollError(error, StatusCode.READ_ONLY)) continue;
        throw error;
      }
      // If the entry fails (the name was taken meanwhile), the unconfirmed inode is freed by its partition's orphan sweep.
      await this.meta.call(MetaNode.createDentry, DentryRequest.create({ partitionId: parentPartitionId, parentIno, name: base.name, ino: inode.ino, type: base.type }), mutation);
      await this.meta.call(MetaNode.confirmLinked, InodeLinkRequest.create({ partitionId: partition.partitionId, ino: inode.ino }), mutation);
      return inode;
    }
    throw lastError;
  }

  /** Removes one entry (unlink or rmdir), including the half in another partition. */
  async #removeEntry(parentIno: number, name: string, isDir: boolean): Promise<void> {
    // A file this client holds open must be on record before it can lose its last link.
    await this.#sessions.flushPending();
    const partitionId = await this.#partitionIdOf(parentIno);
    this.#forgetName(parentIno, name);
    this.#attrs.delete(parentIno);
    if (isDir) {
      const entry = await this.#lookup(parentIno, name);
      if (entry.type !== InodeType.INODE_DIRECTORY) throw new AtollError(StatusCode.NOT_DIR, 'not a directory');
      const home = await this.#partitionIdOf(entry.ino);
      if (home !== partitionId) {
        // The directory's entries live in its own partition: that one checks it is empty
        // and drops it, then the entry goes here.
        await this.meta.call(MetaNode.dropLink, InodeLinkRequest.create({ partitionId: home, ino: entry.ino }), mutation);
        await this.meta.call(MetaNode.removeDentry, DentryRequest.create({ partitionId, parentIno, name, ino: entry.ino, type: entry.type }), mutation);
        this.#forgetName(parentIno, name);
        this.#attrs.delete(entry.ino);
        return;
      }
    }
    const answer = await this.#settling(
      () => this.meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno, name, isDir }), mutation),
      // After a lost answer the name being gone is this removal's doing (or a concurrent one's: gone either way).
      async (refusal) => (refusal.status === StatusCode.NOT_FOUND ? { dentry: undefined, trashName: '', parent: undefined } : undefined),
    );
    this.#forgetName(parentIno, name);
    if (answer.parent !== undefined) this.#remember(answer.parent);
    if (answer.dentry === undefined) return;
    // An inode held by another partition loses the link there once the entry's partition
    // hands it over (link-drops.ts), within moments: its nlink may show one more until then.
    this.#attrs.delete(answer.dentry.ino);
    await this.#refreshOpenLinks(answer.dentry.ino);
  }

  /**
   * After a change of an inode's links (unlink, link, a rename over it): a file of it open
   * here shows the new link count (fstat of an unlinked open file says 0), its buffered
   * size and extents kept.
   */
  async #refreshOpenLinks(ino: number): Promise<void> {
    const open = this.#open.get(ino);
    if (open === undefined) return;
    const inode = await this.#inodeFromMeta(ino).catch(() => undefined);
    if (inode !== undefined) open.refreshAttributes(inode);
  }

  async #removeTree(directoryIno: number, budget: { entries: number }): Promise<void> {
    // Bounded by the budget: every entry seen takes one from it.
    for (;;) {
      let removed = 0;
      for await (const page of this.#readdirPages(directoryIno, false)) {
        for (const entry of page.entries) {
          if (--budget.entries < 0) throw new AtollError(StatusCode.TOO_LARGE, `more than ${this.limits.treeEntriesMax} entries under the tree`);
          if (entry.type === InodeType.INODE_DIRECTORY) await this.#removeTree(entry.ino, budget);
          await this.#removeEntry(directoryIno, entry.name, entry.type === InodeType.INODE_DIRECTORY);
          removed += 1;
        }
      }
      if (removed === 0) return;
    }
  }

  async *#readdirPages(ino: number, plus: boolean): AsyncGenerator<{ entries: Dentry[]; inodes: Inode[] }> {
    const partitionId = await this.#partitionIdOf(ino);
    let after = '';
    for (let page = 0; page * this.limits.readdirPageEntries < this.limits.treeEntriesMax; page++) {
      const answer = await this.meta.call(MetaNode.readDir, ReadDirRequest.create({ partitionId, parentIno: ino, after, limit: this.limits.readdirPageEntries, plus }), read);
      yield { entries: answer.entries, inodes: answer.inodes };
      if (!answer.more || answer.entries.length === 0) return;
      after = answer.entries[answer.entries.length - 1]!.name;
    }
    throw new AtollError(StatusCode.TOO_LARGE, `directory ${ino} has more than ${this.limits.treeEntriesMax} entries`);
  }

  async #readdirPlusOf(ino: number): Promise<Array<{ name: string; stats: Stats | null; type: InodeType; ino: number }>> {
    const result: Array<{ name: string; stats: Stats | null; type: InodeType; ino: number }> = [];
    for await (const page of this.#readdirPages(ino, true)) {
      const inodes = new Map(page.inodes.map((inode) => [inode.ino, inode]));
      for (const entry of page.entries) {
        let inode = inodes.get(entry.ino) ?? null;
        if (inode === null) inode = await this.#inodeOf(entry.ino).catch(() => null);
        else this.#remember(inode);
        this.#names.set(nameKey(ino, entry.name), entry);
        const open = this.#open.get(entry.ino);
        result.push({ name: entry.name, type: entry.type, ino: entry.ino, stats: inode === null ? null : this.#stats(open === undefined ? inode : open.inode()) });
      }
    }
    return result;
  }

  /** The inode a path names; symbolic links in the middle always followed, the last one when `followLast`. */
  async #resolve(path: string, followLast: boolean): Promise<number> {
    this.#checkOpen();
    return this.#walk(rootIno, pathComponents(path, 'lookup'), followLast, { links: 0 });
  }

  async #walk(start: number, components: readonly string[], followLast: boolean, followed: { links: number }): Promise<number> {
    let current = start;
    for (let index = 0; index < components.length; index++) {
      const name = components[index]!;
      if (name === '..') {
        current = await this.#parentDirectory(current);
        continue;
      }
      const dentry = await this.#lookup(current, name);
      const last = index === components.length - 1;
      current = dentry.type === InodeType.INODE_SYMLINK && (!last || followLast) ? await this.#follow(dentry, [], true, followed, current) : dentry.ino;
    }
    return current;
  }

  /** The inode a dentry leads to, following a symbolic link (bounded). */
  async #follow(dentry: Dentry, rest: readonly string[], followLast: boolean, followed = { links: 0 }, parentIno = dentry.parentIno): Promise<number> {
    if (dentry.type !== InodeType.INODE_SYMLINK) return rest.length === 0 ? dentry.ino : this.#walk(dentry.ino, rest, followLast, followed);
    if (++followed.links > this.limits.symlinkFollowMax) throw new AtollError(StatusCode.TOO_MANY_SYMLINKS, `more than ${this.limits.symlinkFollowMax} symbolic links`);
    const target = Buffer.from((await this.#inodeOf(dentry.ino)).symlinkTarget).toString();
    const components = pathComponents(target, 'lookup');
    return this.#walk(target.startsWith('/') ? rootIno : parentIno, [...components, ...rest], followLast, followed);
  }

  async #parentDirectory(ino: number): Promise<number> {
    if (ino === rootIno) return rootIno;
    const inode = await this.#inodeOf(ino);
    if (inode.type !== InodeType.INODE_DIRECTORY) throw new AtollError(StatusCode.NOT_DIR, `inode ${ino} is not a directory`);
    return inode.parentIno === 0 ? rootIno : inode.parentIno;
  }

  /** The directory that will hold the path's last name, and that name. */
  async #parentOf(path: string, syscall: string): Promise<{ parentIno: number; name: string }> {
    this.#checkOpen();
    const { parent, name } = splitLast(path, syscall);
    const parentIno = await this.#walk(rootIno, parent, true, { links: 0 });
    return { parentIno, name };
  }

  async #lookup(parentIno: number, name: string): Promise<Dentry> {
    const key = nameKey(parentIno, name);
    const cached = this.#names.get(key);
    if (cached !== undefined) return cached;
    const answer = await this.meta.call(MetaNode.lookup, LookupRequest.create({ partitionId: await this.#partitionIdOf(parentIno), parentIno, name }), read);
    assert(answer.dentry !== undefined, 'lookup answered without a dentry');
    this.#names.set(key, answer.dentry);
    // The entry's inode when its partition holds it: the stat that usually follows is local.
    if (answer.inode !== undefined) this.#remember(answer.inode);
    return answer.dentry;
  }

  async #lookupOrNull(parentIno: number, name: string): Promise<Dentry | null> {
    try {
      return await this.#lookup(parentIno, name);
    } catch (error) {
      if (isAtollError(error, StatusCode.NOT_FOUND)) return null;
      throw error;
    }
  }

  async #inodeOf(ino: number): Promise<Inode> {
    const open = this.#open.get(ino);
    if (open !== undefined) return open.inode();
    const cached = this.#attrs.get(ino);
    if (cached !== undefined) return cached;
    return this.#freshInode(ino);
  }

  async #freshInode(ino: number): Promise<Inode> {
    const inode = await this.#inodeFromMeta(ino);
    this.#attrs.set(ino, inode);
    const open = this.#open.get(ino);
    if (open !== undefined) {
      open.refresh(inode);
      return open.inode();
    }
    return inode;
  }

  /**
   * Whether the inode holds no extended attributes, by the attribute cache (filled first
   * when it has nothing fresh): as up to date as the attributes a stat answers. An open
   * file's own inode is not asked, since this client's writes keep only its size fresh.
   */
  async #holdsNoXattrs(ino: number): Promise<boolean> {
    if (this.#attrs.get(ino) === undefined) await this.#freshInode(ino);
    return this.#attrs.get(ino)?.xattrs === XattrPresence.XATTRS_NONE;
  }

  /** The inode as its partition's leader has it now (no cache consulted or filled). */
  async #inodeFromMeta(ino: number): Promise<Inode> {
    const answer = await this.meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: await this.#partitionIdOf(ino), ino }), read);
    assert(answer.inode !== undefined, 'get inode answered without the inode');
    return answer.inode;
  }

  async #partitionIdOf(ino: number): Promise<number> {
    return (await this.meta.partitionOf(ino)).partitionId;
  }

  /** A mutation that is repeated after an unknown outcome, its repeat's refusal settled by `settle` (settle.ts). */
  #settling<T>(attempt: () => Promise<T>, settle: (refusal: AtollError) => Promise<T | undefined>): Promise<T> {
    return mutateSettling(attempt, settle, { retryMs: this.limits.unknownOutcomeRetryMs });
  }

  #remember(inode: Inode): void {
    this.#attrs.set(inode.ino, inode);
  }

  #forgetName(parentIno: number, name: string): void {
    this.#names.delete(nameKey(parentIno, name));
  }

  #stats(inode: Inode): Stats {
    return new Stats(inode, this.#dev);
  }

  /** The volume as the masters' admin API shows it (a read: no admin token needed). */
  async #volumeRecord(): Promise<VolumeRecordBody> {
    const answer = await this.#masterClient.admin('GET', `/api/v1/volumes/${encodeURIComponent(this.name)}`);
    if (answer.status === 404) throw new AtollError(StatusCode.NOT_FOUND, `volume ${this.name} does not exist`);
    if (answer.status !== 200) throw new AtollError(StatusCode.UNAVAILABLE, `volume ${this.name}: the masters answered ${answer.status}`);
    return answer.body as VolumeRecordBody;
  }

  async #checkAccessKey(accessKey: string): Promise<void> {
    const expected = (await this.#volumeRecord()).volume.accessKey;
    if (expected !== accessKey) throw new AtollError(StatusCode.PERMISSION_DENIED, `volume ${this.name}: wrong access key`);
  }

  async #waitForRoot(): Promise<void> {
    const deadline = Date.now() + rootWaitMs;
    // Bounded by the deadline: a new volume's first partition leader creates the root.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#remember(await this.#freshInode(rootIno));
        return;
      } catch (error) {
        // A new volume: its partitions may still be forming on the nodes.
        const waitable = isAtollError(error, StatusCode.NOT_FOUND) || (error instanceof AtollError && error.retryable);
        if (!waitable || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new AtollError(StatusCode.CANCELLED, `volume ${this.name} is closed`);
  }

  #checkUint(value: number, what: string): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${what} must be an integer in [0, 2^32): ${value}`);
  }
}

/**
 * A name the partition would look up rather than refuse: one it refuses (empty, with NUL,
 * longer than Linux's XATTR_NAME_MAX) goes to it, so that the refusal is its own.
 */
function plainXattrName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !name.includes('\0') && Buffer.byteLength(name) <= xattrNameBytesMax;
}

function nameKey(parentIno: number, name: string): string {
  return `${parentIno}/${name}`;
}

function timeSpec(time: Date | number | readonly [number, number]): [number, number] {
  if (time instanceof Date) {
    const ms = time.getTime();
    if (!Number.isFinite(ms)) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'invalid date');
    const sec = Math.floor(ms / 1000);
    return [sec, Math.round((ms - sec * 1000) * 1e6)];
  }
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) throw new AtollError(StatusCode.INVALID_ARGUMENT, `invalid time ${time}`);
    const sec = Math.floor(time);
    return [sec, Math.min(999_999_999, Math.round((time - sec) * 1e9))];
  }
  const [sec, nsec] = time;
  if (!Number.isSafeInteger(sec) || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) throw new AtollError(StatusCode.INVALID_ARGUMENT, `invalid time [${sec}, ${nsec}]`);
  return [sec, nsec];
}
