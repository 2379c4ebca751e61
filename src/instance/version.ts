// The version of this build, from package.json (read once at load).
import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export const atollVersion: string = packageJson.version;
