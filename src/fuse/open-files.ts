// The adapter's view of open file handles, for one libfuse 2 behaviour: without
// hard_remove, libfuse keeps an unlinked (or renamed-over) open file reachable by renaming
// it to `.fuse_hidden<16 hex digits>` in its directory, sends later operations with that
// name, and unlinks it after the last release. The adapter turns the hiding rename into a
// plain unlink of the original name (the file system keeps the open inode, as POSIX
// says), answers for the hidden name by handle, and swallows libfuse's final unlink. So
// the file system never sees `.fuse_hidden` names and never lists them.
// (hard_remove would avoid the renaming, but libfuse 2 then refuses every operation on
// the unlinked file with ENOENT before the binding sees it: see README.md.)

const hiddenName = /(^|\/)\.fuse_hidden[0-9a-f]{16}$/;

export function isHiddenName(path: string): boolean {
  return hiddenName.test(path);
}

export class OpenFiles {
  private readonly pathByHandle = new Map<number, string>();
  // Hidden path -> the handles open on it (may be empty once they are released).
  private readonly hiddenHandles = new Map<string, Set<number>>();

  get openCount(): number {
    return this.pathByHandle.size;
  }

  get hiddenCount(): number {
    return this.hiddenHandles.size;
  }

  opened(handle: number, path: string): void {
    this.pathByHandle.set(handle, path);
  }

  released(handle: number): void {
    const path = this.pathByHandle.get(handle);
    this.pathByHandle.delete(handle);
    if (path !== undefined) this.hiddenHandles.get(path)?.delete(handle);
  }

  hasOpen(path: string): boolean {
    for (const openPath of this.pathByHandle.values()) if (openPath === path) return true;
    return false;
  }

  /** A rename that the file system carried out: handles under `from` move with it. */
  renamed(from: string, to: string): void {
    const prefix = `${from}/`;
    for (const [handle, path] of this.pathByHandle) {
      if (path === from) this.pathByHandle.set(handle, to);
      else if (path.startsWith(prefix)) this.pathByHandle.set(handle, to + path.slice(from.length));
    }
  }

  /** libfuse hid `from` as `hiddenPath`: its handles now go by the hidden name. */
  hid(from: string, hiddenPath: string): void {
    const handles = new Set<number>();
    for (const [handle, path] of this.pathByHandle) {
      if (path !== from) continue;
      handles.add(handle);
      this.pathByHandle.set(handle, hiddenPath);
    }
    this.hiddenHandles.set(hiddenPath, handles);
  }

  isHidden(path: string): boolean {
    return this.hiddenHandles.has(path);
  }

  /** Any handle still open on a hidden file, to answer path operations by handle. */
  handleOfHidden(path: string): number | undefined {
    const handles = this.hiddenHandles.get(path);
    if (handles === undefined) return undefined;
    for (const handle of handles) return handle;
    return undefined;
  }

  /** libfuse's final unlink of a hidden name. */
  forgetHidden(path: string): void {
    this.hiddenHandles.delete(path);
  }
}
