/**
 * protogen: generates TypeScript codecs from proto/*.proto (and the generator's test
 * fixtures). Run from the repository root:
 *
 *   node dist/tools/protogen/main.js --write   regenerate every module (npm run proto)
 *   node dist/tools/protogen/main.js --check   list stale modules; exit 4 if any
 *
 * Exit codes: 0 ok, 1 usage, 4 stale generated files, 5 invalid .proto.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repositoryProtoSets } from './generate-proto-set.js';
import { ProtoParseError } from './parse-error.js';
import { compareProtoSet } from './staleness.js';

export const exitCode = { ok: 0, usage: 1, stale: 4, invalidProto: 5 } as const;

const usage = 'usage: protogen (--write | --check) [--root DIR]';

export function main(argv: readonly string[], output: { log(text: string): void; error(text: string): void } = console): number {
  let mode: 'write' | 'check' | undefined;
  let root = '.';
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--write' || argument === '--check') {
      if (mode !== undefined) {
        output.error(usage);
        return exitCode.usage;
      }
      mode = argument === '--write' ? 'write' : 'check';
    } else if (argument === '--root' && index + 1 < argv.length) {
      root = argv[++index];
    } else if (argument === '--help' || argument === '-h') {
      output.log(usage);
      return exitCode.ok;
    } else {
      output.error(`protogen: unknown argument ${argument}\n${usage}`);
      return exitCode.usage;
    }
  }
  if (mode === undefined) {
    output.error(usage);
    return exitCode.usage;
  }

  let stale = 0;
  try {
    for (const set of repositoryProtoSets) {
      for (const status of compareProtoSet(set, root)) {
        if (status.state === 'current') continue;
        if (mode === 'check') {
          output.error(`stale: ${status.path} (${status.state})`);
          stale++;
          continue;
        }
        const path = join(root, status.path);
        if (status.expected === undefined) {
          rmSync(path);
          output.log(`deleted ${status.path}`);
        } else {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, status.expected);
          output.log(`wrote ${status.path}`);
        }
      }
    }
  } catch (error) {
    if (error instanceof ProtoParseError) {
      output.error(`protogen: ${error.message}`);
      return exitCode.invalidProto;
    }
    throw error;
  }
  if (stale > 0) {
    output.error(`protogen: ${stale} generated file(s) are stale: run npm run proto`);
    return exitCode.stale;
  }
  return exitCode.ok;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main(process.argv.slice(2));
}
