// The package version, read from package.json at run time: src/cli/ (tests) and dist/cli/ (the
// installed CLI) both sit two folders below it.
import { readFileSync } from 'node:fs';

let version: string | null = null;

export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
