// bench/e2eCore.ts's row arithmetic on the real adapter: our blocks bracket the peers' (as many
// after as before), the row's ms is the median of all of them, and every ratio a peer asks for is its
// ms over that median — the numbers the README's benchmark table quotes. The peer here is a plain
// function (no second framework): what is under test is the core's bookkeeping, not a peer.
import { describe, expect, it } from 'vitest';
import { measurePreset, type E2ePeer } from '../bench/e2eCore.ts';
import type { BenchContext } from '../bench/types.ts';
import { median } from '../src/runtime/median.ts';
import { testDevice } from './helpers/gpu.ts';

async function context(): Promise<BenchContext> {
  return { ctx: await testDevice(), peak: { fma_gflops: 10, copy_gbps: 1 }, quick: true, paper: false, log: () => {} };
}

describe('e2e core', () => {
  it('brackets the peers with our blocks and divides each peer ms by their median', async () => {
    const b = await context();
    const seen: string[] = [];
    const peer: E2ePeer = async ({ name, cfg, signal }) => {
      seen.push(name);
      expect(signal.length).toBe(cfg.batchSize * cfg.window);
      return { fields: { peer_fake: 'fake@1', peer_fake_ms: 1234.5 }, ratios: { ratio_vs_fake: 1234.5 } };
    };
    const row = await measurePreset(b, 'tiny', 2, [peer]);
    expect(seen).toEqual(['tiny']);
    const blocks = row.block_ms as number[];
    expect(blocks).toHaveLength(2); // quick: one block before the peer, one after
    // block_ms is rounded to 0.1 ms in the row, ms is not.
    expect(Math.abs(row.ms - median(blocks))).toBeLessThanOrEqual(0.05 + 1e-9);
    // The ratio is rounded to 0.01 and row.ms to 1e-4 ms (a relative 1e-6 at tiny's ms).
    expect(Math.abs((row.ratio_vs_fake as number) - 1234.5 / row.ms)).toBeLessThanOrEqual(0.005 + 1e-6);
    expect(row.peer_fake).toBe('fake@1');
    expect(row.peer_fake_ms).toBe(1234.5);
  });

  it('times one set of blocks when there is no peer', async () => {
    const row = await measurePreset(await context(), 'tiny', 2);
    expect(row.block_ms as number[]).toHaveLength(1);
    expect(Object.keys(row).filter((k) => k.startsWith('ratio_vs'))).toEqual([]);
  });
});
