// scripts/val-list.mjs: the --val-list behind the README's telephone-band speaker result. It must
// give each speaker round(n · fraction) test files clamped to [1, n − 1] (a single-file speaker stays
// in train), depend only on the names (same list for any row order: no result can steer it), and
// refuse a fraction outside (0, 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'cpc-val-list-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(rows: string[], fraction: string) {
  const dir = mkdtempSync(join(work, 'd-'));
  writeFileSync(join(dir, 'labels.csv'), ['file,speaker', ...rows].join('\n') + '\n');
  return spawnSync(process.execPath, [join(repo, 'scripts', 'val-list.mjs'), dir, fraction], { encoding: 'utf8' });
}

it('takes round(n · f) files per speaker, clamped to [1, n − 1], independent of row order', () => {
  const rows = [
    ...Array.from({ length: 20 }, (_, i) => `a_${i}.wav,a`), // 20 · 0.25 = 5
    ...Array.from({ length: 3 }, (_, i) => `b_${i}.wav,b`), // 0.75 → 1
    ...Array.from({ length: 2 }, (_, i) => `c_${i}.wav,c`), // 0.5 → 1 (n − 1 = 1)
    'd_0.wav,d', // one file: stays in train
  ];
  const r = run(rows, '0.25');
  expect(r.status, r.stderr).toBe(0);
  const list = r.stdout.trim().split('\n');
  const count = (p: string) => list.filter((f) => f.startsWith(p)).length;
  expect([count('a_'), count('b_'), count('c_'), count('d_')]).toEqual([5, 1, 1, 0]);
  expect(new Set(list).size).toBe(list.length);
  const shuffled = run([...rows].reverse(), '0.25');
  expect(shuffled.stdout.trim().split('\n').sort()).toEqual([...list].sort());
  // A larger fraction adds files and never drops one (the same hash order is cut later).
  const more = run(rows, '0.5').stdout.trim().split('\n');
  expect(list.every((f) => more.includes(f))).toBe(true);
  expect(more.filter((f) => f.startsWith('a_')).length).toBe(10);
});

it('refuses a fraction outside (0, 1)', () => {
  for (const f of ['0', '1', 'x']) {
    const r = run(['a_0.wav,a', 'a_1.wav,a'], f);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/FRACTION/);
  }
});
