// Reading a `--config FILE.json` (train, eval): size-bounded, and every failure a ConfigError naming
// the file, so a typo'd path or a stray comma is one clear line.
import { ConfigError, configFromObject, parseConfigObject, type CpcTrainConfig } from '../cpc/config.ts';
import { readFileLimited } from '../node/atomicFile.ts';
import { fsReason } from './usage.ts';

const MAX_CONFIG_BYTES = 1024 * 1024;

/** The file's top-level JSON object, not yet validated as a config (callers may add fields first). */
export async function readConfigObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readFileLimited(path, MAX_CONFIG_BYTES));
  } catch (e) {
    throw new ConfigError('--config', `cannot read '${path}': ${fsReason(e)}`);
  }
  return parseConfigObject(text, path);
}

/** configFromObject for an object read from `path`: a refusal names the file as well as the field. */
export function configFromFileObject(raw: Record<string, unknown>, path: string): CpcTrainConfig {
  try {
    return configFromObject(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(path, e.message.replace(/^config: /, ''));
    throw e;
  }
}

/** A validated config from a file ({"preset": …, overrides…}; preset default small). */
export async function readConfigFile(path: string): Promise<CpcTrainConfig> {
  return configFromFileObject(await readConfigObject(path), path);
}
