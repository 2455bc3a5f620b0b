// Errors a CLI user caused (a bad flag value, a missing file): typed so main.ts prints them as one
// `error: …` line with no stack trace, like every other CpcError.
import { CpcError } from '../runtime/errors.ts';
import type { FeatureLayer } from '../cpc/encodeFeatures.ts';

export class UsageError extends CpcError {}

/**
 * A file or folder named on the command line exists in the wrong form or cannot be read or written
 * (a FIFO, a read-only folder, a full disk). Not a usage error: the command line was well formed, so
 * the CLI exits 1, not 2 (main.ts).
 */
export class InputFileError extends CpcError {}

/** Parses a flag's value as an integer in [min, max], or throws a UsageError naming the flag. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(name, `expects an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got '${value}'`);
  }
  return n;
}

/** `--layer z|c` (encode, eval), or a UsageError naming the command. */
export function layerFlag(command: string, value: string | undefined): FeatureLayer {
  if (value !== 'z' && value !== 'c') throw new UsageError(command, `--layer must be z or c, got '${value}'`);
  return value;
}

export { fsReason } from '../node/fsReason.ts';
