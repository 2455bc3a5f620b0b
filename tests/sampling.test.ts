// WindowSampler's two modes: 'samespeaker' (CPC_audio's default) draws a whole batch from one
// speaker, 'uniform' mixes them; both are seeded and resume exactly from getState().
import { describe, expect, it } from 'vitest';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';

const ds = createSyntheticDataset();
const opts = { B: 8, L: 4096, seed: 11 };

describe('WindowSampler sampling modes', () => {
  it('samespeaker: one speaker per batch, every speaker drawn; uniform mixes speakers', () => {
    const same = new WindowSampler(ds, 'train', { ...opts, sampling: 'samespeaker' });
    const uni = new WindowSampler(ds, 'train', { ...opts, sampling: 'uniform' });
    const seen = new Set<number>();
    let mixed = 0;
    for (let i = 0; i < 60; i++) {
      const b = same.next();
      expect(new Set(b.speakers).size, `batch ${i}`).toBe(1);
      seen.add(b.speakers[0]!);
      if (new Set(uni.next().speakers).size > 1) mixed++;
    }
    expect(seen.size).toBe(ds.numSpeakers);
    // 8 windows over the default 16 speakers drawn uniformly share one speaker with probability
    // ~16·(1/16)^8: never.
    expect(mixed).toBe(60);
  });

  it('samespeaker is seeded and resumes exactly', () => {
    const a = new WindowSampler(ds, 'train', { ...opts, sampling: 'samespeaker' });
    for (let i = 0; i < 5; i++) a.next();
    const state = a.getState();
    const wantStarts = Array.from({ length: 3 }, () => Array.from(a.next().starts));
    const b = new WindowSampler(ds, 'train', { ...opts, sampling: 'samespeaker' });
    b.setState(state);
    expect(Array.from({ length: 3 }, () => Array.from(b.next().starts))).toEqual(wantStarts);
    expect(() => new WindowSampler(ds, 'train', { ...opts, sampling: 'bogus' as 'uniform' })).toThrow(/unknown sampling mode 'bogus'/);
  });
});
