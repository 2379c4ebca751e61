// TEST ONLY: whether this machine can mount FUSE file systems, for tests that need it.
// Under CI=true a missing piece is a test failure with the reason; elsewhere the tests
// are skipped and the reason printed loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadBinding } from '../binding.js';

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

/** /dev/fuse readable and writable, fusermount3 or fusermount on PATH, the binding loads. */
export function fuseAvailability(): FuseAvailability {
  if (checked !== undefined) return checked;
  const missing: string[] = [];
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch (error) {
    missing.push(`/dev/fuse is not usable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!onPath('fusermount3') && !onPath('fusermount')) missing.push('neither fusermount3 nor fusermount is on PATH (Debian package fuse3)');
  try {
    loadBinding();
  } catch (error) {
    missing.push(error instanceof Error ? error.message : String(error));
  }
  checked = missing.length === 0 ? { available: true } : { available: false, reason: missing.join('; ') };
  return checked;
}

/**
 * Options for a `describe` of tests that mount FUSE: `{ skip: false }` when FUSE is
 * available. Otherwise the reason is printed on stderr; under CI=true a failing test
 * named for the suite is added, so the run fails; the suite itself is skipped.
 */
export function fuseSuiteOptions(suite: string): { skip: string | false } {
  const availability = fuseAvailability();
  if (availability.available) return { skip: false };
  const message = `FUSE is not available, ${suite} cannot run: ${availability.reason}`;
  if (process.env.CI === 'true') {
    test(`${suite}: FUSE is available (required under CI=true)`, () => assert.fail(message));
  } else {
    process.stderr.write(`\n!!! SKIPPED: ${message}\n\n`);
  }
  return { skip: message };
}
