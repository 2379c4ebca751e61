/** Compares generated modules on disk with what the generator produces now. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { generateProtoSet, generatedHeaderPrefix, type ProtoSet } from './generate-proto-set.js';

export interface GeneratedFileStatus {
  /** Repo-relative path of the generated module. */
  readonly path: string;
  readonly state: 'current' | 'changed' | 'missing' | 'orphaned';
  /** Expected content; undefined for orphaned files, which should be deleted. */
  readonly expected: string | undefined;
}

/** Generated modules on disk: .ts files in the output folder that start with the generated header. */
export function listGeneratedFiles(outputDirectory: string, root: string): string[] {
  const directory = join(root, outputDirectory);
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((name) => name.endsWith('.ts') && readFileSync(join(directory, name), 'utf8').startsWith(generatedHeaderPrefix))
    .map((name) => posix.join(outputDirectory, name))
    .sort();
}

export function compareProtoSet(set: ProtoSet, root = '.'): GeneratedFileStatus[] {
  const outputs = generateProtoSet(set, root);
  const statuses: GeneratedFileStatus[] = [];
  for (const [path, expected] of outputs) {
    const onDisk = join(root, path);
    if (!existsSync(onDisk)) statuses.push({ path, state: 'missing', expected });
    else statuses.push({ path, state: readFileSync(onDisk, 'utf8') === expected ? 'current' : 'changed', expected });
  }
  for (const path of listGeneratedFiles(set.outputDirectory, root)) {
    if (!outputs.has(path)) statuses.push({ path, state: 'orphaned', expected: undefined });
  }
  return statuses;
}
