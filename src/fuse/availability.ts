// Whether this machine can mount FUSE file systems: /dev/fuse usable, fusermount3 or
// fusermount on PATH, and either root (the kernel session) or the fuse-native binding
// loads (Debian's libfuse2). Used by
// `atoll start` (mount or explain) and by the tests that need a mount.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadBinding } from './binding.js';
import { kernelMountPossible } from './kernel/kernel-mount.js';

export type FuseAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

function onPath(command: string): boolean {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    try {
      accessSync(join(directory, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

let checked: FuseAvailability | undefined;

/**
 * /dev/fuse readable and writable, fusermount3 or fusermount on PATH (unmounts), and a
 * way to mount: the kernel session (root, mount(8) on PATH) or the binding (it loads).
 */
export function fuseAvailability(): FuseAvailability {
  if (checked !== undefined) return checked;
  const missing: string[] = [];
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch (error) {
    missing.push(`/dev/fuse is not usable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!onPath('fusermount3') && !onPath('fusermount')) missing.push('neither fusermount3 nor fusermount is on PATH (Debian package fuse3)');
  if (!(kernelMountPossible() && onPath('mount'))) {
    try {
      loadBinding();
    } catch (error) {
      missing.push(`not root (the kernel session mounts as root only) and ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  checked = missing.length === 0 ? { available: true } : { available: false, reason: missing.join('; ') };
  return checked;
}

