#!/usr/bin/env node
// Writes a --val-list for a corpus folder: per speaker (labels.csv `file,speaker`), round(n · FRACTION)
// files (clamped to [1, n − 1]; speakers with one file stay in train) chosen by the SHA-256 of the
// file name, so the list depends only on the names and the fraction, never on any result.
// Why: the speaker probe's honest interval is a bootstrap over test utterances; the corpus default
// (10 % of files) leaves the 618-file dev set 63 test utterances, ±3 points. 0.25 is the synthetic
// set's own test fraction. Usage: node scripts/val-list.mjs DIR FRACTION > val.txt
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const [dir, fracArg] = process.argv.slice(2);
const frac = Number(fracArg);
if (!dir || !(frac > 0 && frac < 1)) { console.error('usage: node scripts/val-list.mjs DIR FRACTION (0 < FRACTION < 1)'); process.exit(2); }
const bySpeaker = new Map();
for (const line of readFileSync(join(dir, 'labels.csv'), 'utf8').split('\n').slice(1)) {
  const [file, speaker] = line.trim().split(',');
  if (!file || !speaker) continue;
  if (!bySpeaker.has(speaker)) bySpeaker.set(speaker, []);
  bySpeaker.get(speaker).push(file);
}
const hash = (s) => createHash('sha256').update(s).digest('hex');
const out = [];
for (const [, files] of [...bySpeaker].sort(([a], [b]) => (a < b ? -1 : 1))) {
  if (files.length < 2) continue;
  const n = Math.min(files.length - 1, Math.max(1, Math.round(files.length * frac)));
  out.push(...files.map((f) => [hash(f), f]).sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, n).map(([, f]) => f));
}
process.stdout.write(out.join('\n') + '\n');
