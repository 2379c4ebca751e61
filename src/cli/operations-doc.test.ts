// Every atoll command the operations guide and the example READMEs tell an operator to
// run exists: `atoll <command> [<verb>] --help` answers 0 for each one they name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../../', import.meta.url);
const atoll = fileURLToPath(new URL('bin/atoll.js', root));
const documents = ['docs/operations.md', 'examples/single-host/README.md', 'examples/multi-host/README.md'];

/** `atoll <command> [<verb>]` of every shell line in the fenced blocks of a Markdown text. */
function commandsIn(markdown: string): string[] {
  const found = new Set<string>();
  const blocks = markdown.split('```').filter((_, index) => index % 2 === 1);
  for (const block of blocks) {
    for (const match of block.matchAll(/(?:^|;|\$\(|\||&&|\bdo|\bthen)\s*atoll ([a-z]+)(?: ([a-z][a-z-]*))?/gm)) {
      const [, command, verb] = match;
      found.add(verb === undefined ? command! : `${command} ${verb}`);
    }
  }
  return [...found].sort();
}

test('the commands are found in shell lines, with their verb when they have one', () => {
  assert.deepEqual(commandsIn('text atoll nope\n```sh\natoll node list --role datanode\nx=$(atoll cluster status)\nfor u in a; do atoll start --detach; done\nkubectl -n atoll create secret\n```\n'), ['cluster status', 'node list', 'start']);
});

test('every atoll command of the operations guide and the example READMEs exists', () => {
  const checked: string[] = [];
  for (const document of documents) {
    const commands = commandsIn(readFileSync(new URL(document, root), 'utf8'));
    assert.ok(commands.length > 0, `${document} names atoll commands`);
    for (const command of commands) {
      if (checked.includes(command)) continue;
      // A server role's second word is not a verb (atoll metanode --config ...).
      const words = command.split(' ');
      const result = spawnSync(process.execPath, [atoll, ...words, '--help'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, `${document}: atoll ${command} --help: ${result.stderr}`);
      checked.push(command);
    }
  }
  for (const expected of ['config check', 'node decommission', 'node info', 'cluster status']) assert.ok(checked.includes(expected), `${expected} is checked`);
});
