// The simulator's building blocks must be as pure as the code they drive: anything that
// reads the clock, real randomness, the environment or does I/O would break replay of a
// seed. (Tests may read the environment, for ATOLL_SIM_SEED, so they are not scanned.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests run from dist/src/sim; the sources are in src/sim.
const here = dirname(fileURLToPath(import.meta.url));
const sourceFolder = join(here, '..', '..', '..', 'src', 'sim');

const forbidden: ReadonlyArray<[RegExp, string]> = [
  [/from\s+['"]node:/, 'a node: import'],
  [/require\(/, 'require()'],
  [/import\(\s*['"]/, 'a dynamic import'],
  [/\bDate\.now\b|\bnew Date\b/, 'the wall clock'],
  [/\bperformance\.now\b/, 'the monotonic clock'],
  [/\bMath\.random\b/, 'unseeded randomness'],
  [/\bcrypto\./, 'crypto'],
  [/\bprocess\./, 'process'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers'],
  [/\bMessageChannel\b/, 'a macrotask channel'],
  [/\bconsole\./, 'console output'],
  [/\b(fetch|WebSocket|XMLHttpRequest)\b/, 'network access'],
  [/\bglobalThis\b/, 'global state'],
  [/from\s+['"](?!\.)/, 'a package import (the simulator imports only relative files)'],
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

test('the simulator uses no clock, randomness, environment, timers or I/O', () => {
  const files = sourceFiles(sourceFolder);
  assert.ok(files.length >= 5, `found only ${files.length} source files in ${sourceFolder}`);
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
  const sample = "import { randomInt } from 'node:crypto';\nconst wait = new Promise((resolve) => setImmediate(resolve));";
  const found = forbidden.filter(([pattern]) => sample.split('\n').some((line) => pattern.test(line))).map(([, what]) => what);
  assert.deepEqual(found, ['a node: import', 'timers', 'a package import (the simulator imports only relative files)']);
});
