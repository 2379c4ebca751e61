// Test support for folders that must stay pure (the Raft core, the simulator's pieces):
// scans their non-test sources, comments stripped, for uses that would break replay from
// a seed (clocks, randomness, timers, I/O, the environment) and reports each with its
// file and line.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export type ForbiddenUse = readonly [pattern: RegExp, what: string];

// What no pure folder may use; each folder adds its own on top.
export const forbiddenEverywhere: readonly ForbiddenUse[] = [
  [/from\s+['"]node:/, 'a node: import'],
  [/require\(/, 'require()'],
  [/import\(\s*['"]/, 'a dynamic import'],
  [/\bDate\.now\b|\bnew Date\b/, 'the wall clock'],
  [/\bperformance\.now\b/, 'the monotonic clock'],
  [/\bMath\.random\b/, 'unseeded randomness'],
  [/\bcrypto\./, 'crypto'],
  [/\bprocess\./, 'process'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers'],
  [/\bconsole\./, 'console output'],
  [/\b(fetch|WebSocket|XMLHttpRequest)\b/, 'network access'],
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

// Every forbidden use in the folder's sources, as `file:line: what: code`.
export function scanForImpurities(folder: string, forbidden: readonly ForbiddenUse[]): { files: number; violations: string[] } {
  const files = sourceFiles(folder);
  const violations: string[] = [];
  for (const file of files) {
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, position) => {
      for (const [pattern, what] of forbidden) {
        if (pattern.test(line)) violations.push(`${relative(folder, file)}:${position + 1}: ${what}: ${line.trim()}`);
      }
    });
  }
  return { files: files.length, violations };
}

// Which kinds of use a sample text contains (to test the patterns themselves).
export function forbiddenUsesIn(sample: string, forbidden: readonly ForbiddenUse[]): string[] {
  return forbidden.filter(([pattern]) => sample.split('\n').some((line) => pattern.test(line))).map(([, what]) => what);
}
