// TEST ONLY: whether this machine can mount FUSE file systems, for tests that need it.
// Under CI=true a missing piece is a test failure with the reason; elsewhere the tests
// are skipped and the reason printed loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseAvailability } from '../availability.js';

export { fuseAvailability, type FuseAvailability } from '../availability.js';

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
