// Runs every compiled test file with Node's own test runner.
// Node 20's `--test` takes no globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['dist/src', 'dist/tools', 'dist/bench'];
const files = [];
function walk(dir) {
  let names;
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(relative('.', path));
  }
}
for (const root of roots) walk(root);
const filters = process.argv.slice(2);
const selected = filters.length === 0 ? files : files.filter((f) => filters.some((s) => f.includes(s)));
if (selected.length === 0) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
const concurrency = process.env.ATOLL_TEST_CONCURRENCY ?? '2';
// A test (or a whole test file: Node counts the file's process too) that hangs fails after
// this long with its name in the report, instead of holding the run until CI's limit
// without saying which. The longest file takes a few minutes here.
const timeoutMs = process.env.ATOLL_TEST_TIMEOUT_MS ?? '1200000';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);
