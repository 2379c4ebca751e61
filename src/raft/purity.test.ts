// The Raft core must stay a pure, deterministic state machine: anything that reads the
// clock, randomness, the environment or does I/O would break replay from a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests run from dist/src/raft; the sources are in src/raft.
const here = dirname(fileURLToPath(import.meta.url));
const sourceFolder = join(here, '..', '..', '..', 'src', 'raft');

const forbidden: ReadonlyArray<[RegExp, string]> = [
  [/from\s+['"]node:/, 'a node: import'],
  [/require\(/, 'require()'],
  [/import\(\s*['"]/, 'a dynamic import'],
  [/\bDate\.now\b|\bnew Date\b/, 'the wall clock'],
  [/\bperformance\.now\b/, 'the monotonic clock'],
  [/\bMath\.random\b/, 'unseeded randomness'],
  [/\bcrypto\./, 'crypto'],
  [/\bprocess\./, 'process'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timers'],
  [/\bconsole\./, 'console output'],
  [/\b(fetch|WebSocket|XMLHttpRequest)\b/, 'network access'],
  [/from\s+['"](?!\.)/, 'a package import (the core imports only relative files)'],
];

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.push(path);
  }
  return files;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

test('the raft core uses no clock, randomness, environment, timers or I/O', () => {
  const files = sourceFiles(sourceFolder);
  assert.ok(files.length >= 15, `found only ${files.length} source files in ${sourceFolder}`);
  const violations: string[] = [];
  for (const file of files) {
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, position) => {
      for (const [pattern, what] of forbidden) {
        if (pattern.test(line)) violations.push(`${relative(sourceFolder, file)}:${position + 1}: ${what}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(violations, []);
});

test('the purity scan catches a forbidden use', () => {
  const sample = "import { readFileSync } from 'node:fs';\nconst now = Date.now();";
  const found = forbidden.filter(([pattern]) => sample.split('\n').some((line) => pattern.test(line))).map(([, what]) => what);
  assert.deepEqual(found, ['a node: import', 'the wall clock', 'a package import (the core imports only relative files)']);
});
