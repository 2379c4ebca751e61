import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { roleSchemas, serverRoles } from './roles.js';
import { type KeySpec, describeDefault, kebabCase } from './schema.js';

// The README sits in src/, the compiled test in dist/src/.
const readme = readFileSync(new URL('../../../src/config/README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n### ${title}\n`);
  assert.ok(start >= 0, `README has no section "### ${title}"`);
  const end = readme.indexOf('\n#', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

test('the README documents every key of every role with its default', () => {
  const shared = section('Every server role');
  for (const role of serverRoles) {
    const own = section(role);
    for (const [field, spec] of Object.entries(roleSchemas[role].keys) as [string, KeySpec<unknown>][]) {
      const name = kebabCase(field);
      const row = [...shared.split('\n'), ...own.split('\n')].find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row !== undefined, `README: no row for ${role} key ${name}`);
      assert.ok(row.includes(`\`${describeDefault(spec)}\``), `README: ${role} ${name} should show default ${describeDefault(spec)}: ${row}`);
    }
  }
});
