// The config validator (src/cpc/config.ts), on the CPU: every field is checked by name (type, range,
// unknown and missing keys, also inside an object preset, `optimizer` and `negatives`), and — the
// property that matters to a user — whatever it accepts survives the trip through a checkpoint that
// `eval` and `train --resume` read back (readCheckpointInfo + decodeCheckpoint).
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointInfo } from '../src/cpc/checkpoint.ts';
import { ConfigError, configFromObject, cpcChance, MAX_ENCODER_LAYERS, PRESETS, resolveConfig, type CpcTrainConfig } from '../src/cpc/config.ts';
import { WindowSampler } from '../src/cpc/data/batcher.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { createSyntheticDataset } from '../src/cpc/data/synthetic.ts';
import { nonFiniteCauses, nonFiniteWhat } from '../src/cpc/nonFinite.ts';
import { initParams, packParams, paramLayout } from '../src/cpc/params.ts';
import { CheckpointError } from '../src/cpc/safetensors.ts';
import { ShapeError } from '../src/runtime/errors.ts';

/** The ConfigError `raw` is refused with (fails the test when it is accepted or throws anything else). */
function refusal(raw: unknown): string {
  try {
    configFromObject(raw as Record<string, unknown>);
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(raw).slice(0, 200)}`);
}

/** What train writes (encodeCheckpoint) and what eval / --resume read back from it. */
function roundTrip(cfg: CpcTrainConfig): CpcTrainConfig {
  const layout = paramLayout(cfg);
  const params = packParams(layout, initParams(cfg, cfg.seed));
  const bytes = encodeCheckpoint(cfg, layout, 3, { params, m: new Float32Array(layout.total), v: new Float32Array(layout.total) });
  const info = readCheckpointInfo(bytes, 'rt.safetensors');
  decodeCheckpoint(bytes, info.config, paramLayout(info.config), 'rt.safetensors');
  return info.config;
}

const tinyObject = (): Record<string, unknown> => JSON.parse(JSON.stringify(PRESETS.tiny)) as Record<string, unknown>;

describe('config validation names the field', () => {
  it('an object preset is checked like overrides: unknown and missing keys, nested too (#11.3)', () => {
    expect(refusal({ preset: { ...tinyObject(), EVIL: 1 } })).toMatch(/^config: preset\.EVIL: unknown config field/);
    const opt = tinyObject();
    (opt.optimizer as Record<string, unknown>).EVIL = 1;
    expect(refusal({ preset: opt })).toMatch(/^config: preset\.optimizer\.EVIL: unknown optimizer field/);
    const partial = tinyObject();
    delete partial.seed;
    expect(refusal({ preset: partial })).toMatch(/^config: preset: missing config field seed/);
    // A complete object preset is accepted and equals the preset it copies.
    expect(configFromObject({ preset: tinyObject() })).toEqual(PRESETS.tiny);
  });

  it('a numeric, empty-object or array preset blames preset, not channels (#11.12)', () => {
    for (const preset of [5, {}, [], true]) {
      const msg = refusal({ preset });
      expect(msg).toMatch(/^config: preset: /);
      expect(msg).not.toMatch(/channels: must/);
    }
  });

  it('sizes are integers in a stated range: channels 1e300, window 1e9 (#11.12)', () => {
    expect(refusal({ preset: 'tiny', channels: 1e300 })).toBe('config: channels: must be an integer in [4, 65536], got 1e+300');
    expect(refusal({ preset: 'tiny', hidden: 2 ** 20 })).toMatch(/^config: hidden: must be an integer in \[4, 65536\]/);
    expect(refusal({ preset: 'tiny', window: 1e9 })).toBe('config: window: must be an integer in [1, 268435456] (samples), got 1000000000');
    expect(refusal({ preset: 'tiny', batchSize: 1e300 })).toMatch(/^config: batchSize: must be an integer in \[1, 268435456\]/);
    expect(refusal({ preset: 'tiny', kernels: [10, 8, 4, 4, 1e300] })).toMatch(/^config: kernels\[4\]: must be an integer/);
    expect(refusal({ preset: 'tiny', negatives: { kind: 'sampled', n: 1e300 } })).toMatch(/^config: negatives\.n: must be an integer/);
  });

  it('a non-object optimizer is refused by name, not spread away (#11.11)', () => {
    for (const optimizer of [5, null, true, [], 'adam']) {
      expect(refusal({ preset: 'tiny', optimizer })).toMatch(/^config: optimizer: must be an object of optimizer fields/);
    }
    expect(() => resolveConfig('tiny', { optimizer: 5 as never })).toThrow(/optimizer: must be an object/);
  });

  it('extra keys inside negatives are refused; a non-object negatives names negatives (#11.11)', () => {
    expect(refusal({ preset: 'tiny', negatives: { kind: 'batch', extra: 1 } })).toMatch(/^config: negatives\.extra: unknown 'batch' negatives field/);
    expect(refusal({ preset: 'tiny', negatives: { kind: 'sampled', n: 4, m: 2 } })).toMatch(/^config: negatives\.m: unknown 'sampled' negatives field/);
    expect(refusal({ preset: 'tiny', negatives: { kind: 'sampled' } })).toMatch(/^config: negatives: missing 'sampled' negatives field n/);
    expect(refusal({ preset: 'tiny', negatives: { kind: 'batch', n: 3 } })).toMatch(/^config: negatives\.n: only the 'sampled' mode/);
    expect(refusal({ preset: 'tiny', negatives: 'batch' })).toMatch(/^config: negatives: must be an object/);
  });

  it("sampled negatives take an optional boolean 'shared' (CPC_audio's one set per position); other modes refuse it", () => {
    expect(configFromObject({ preset: 'tiny', negatives: { kind: 'sampled', n: 128, shared: true } }).negatives).toEqual({ kind: 'sampled', n: 128, shared: true });
    expect(configFromObject({ preset: 'tiny', negatives: { kind: 'sampled', n: 128 } }).negatives).toEqual({ kind: 'sampled', n: 128 });
    expect(refusal({ preset: 'tiny', negatives: { kind: 'sampled', n: 8, shared: 1 } })).toBe('config: negatives.shared: must be true or false, got 1');
    expect(refusal({ preset: 'tiny', negatives: { kind: 'sampled', shared: true } })).toMatch(/^config: negatives: missing 'sampled' negatives field n/);
    expect(refusal({ preset: 'tiny', negatives: { kind: 'batch', shared: true } })).toMatch(/^config: negatives\.shared: only the 'sampled' mode/);
  });

  it('10,000 encoder layers are refused at once by the layer cap (#11.13)', () => {
    const n = 10_000;
    const msg = refusal({ preset: 'tiny', kernels: new Array(n).fill(1), strides: new Array(n).fill(1) });
    expect(msg).toBe(`config: kernels: must be an array of 1 to ${MAX_ENCODER_LAYERS} entries (encoder layers), got an array of length ${n}`);
    // The cap itself is allowed (and shrinking layers are bounded by the window anyway).
    const cfg = configFromObject({ preset: 'tiny', kernels: new Array(MAX_ENCODER_LAYERS).fill(1), strides: new Array(MAX_ENCODER_LAYERS).fill(1) });
    expect(cfg.kernels).toHaveLength(MAX_ENCODER_LAYERS);
    expect(refusal({ preset: 'tiny', kernels: new Array(20).fill(2), strides: new Array(20).fill(2) })).toMatch(/^config: window: 10240 samples give 0 frames/);
  });
});

describe('whatever the validator accepts, its checkpoint loads (#11.3)', () => {
  it('the accepted config shapes round-trip through a checkpoint unchanged', () => {
    const shapes: Record<string, unknown>[] = [
      { preset: 'tiny' },
      { preset: 'paper', channels: 16, hidden: 16 },
      { preset: tinyObject() },
      { preset: tinyObject(), seed: 7, optimizer: { lr: 0.01 } },
      { preset: 'tiny', negatives: { kind: 'sampled', n: 5 }, optimizer: { maxGradNorm: null, decoupled: true, weightDecay: 0.01 } },
      { preset: 'tiny', negatives: { kind: 'sampled', n: 128, shared: true } },
      { preset: 'tiny', negatives: { kind: 'batch-time' }, batchSize: 1, norm: true, predictorBias: true },
      { preset: 'tiny', kernels: [4, 4], strides: [2, 2], window: 64, predictionSteps: 2, seed: 0xffffffff },
    ];
    for (const raw of shapes) {
      const cfg = configFromObject(raw);
      expect(roundTrip(cfg), JSON.stringify(raw)).toEqual(cfg);
    }
  });

  it('fuzz: a mutated config is either refused with a ConfigError or round-trips', () => {
    const rng = new Rng(11);
    const weird: unknown[] = [5, -1, 0, 1.5, 1e300, 1e9, 2 ** 16, 2 ** 28, null, true, false, 'x', [], [3], {}, { EVIL: 1 }, { kind: 'sampled', n: 2 }];
    const paths = ['channels', 'hidden', 'predictionSteps', 'kernels', 'strides', 'norm', 'predictorBias', 'negatives', 'negatives.kind',
      'negatives.n', 'negatives.EVIL', 'window', 'batchSize', 'optimizer', 'optimizer.lr', 'optimizer.maxGradNorm', 'optimizer.EVIL',
      'seed', 'EVIL', 'preset', 'preset.EVIL', 'preset.optimizer.EVIL', 'preset.channels', 'kernels.0'];
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const raw: Record<string, unknown> = rng.int(2) === 0 ? { preset: 'tiny' } : { preset: tinyObject() };
      for (let j = 0; j <= rng.int(2); j++) {
        const path = paths[rng.int(paths.length)]!.split('.');
        let at: Record<string, unknown> = raw;
        for (const key of path.slice(0, -1)) {
          if (typeof at[key] !== 'object' || at[key] === null) at[key] = key === 'negatives' ? { kind: 'batch' } : {};
          at = at[key] as Record<string, unknown>;
        }
        at[path[path.length - 1]!] = JSON.parse(JSON.stringify(weird[rng.int(weird.length)]));
      }
      let cfg: CpcTrainConfig;
      try {
        cfg = configFromObject(raw);
      } catch (e) {
        expect(e, `${String(e)} for ${JSON.stringify(raw)}`).toBeInstanceOf(ConfigError);
        continue;
      }
      accepted++;
      // Large accepted widths (2^16 channels) would need gigabytes of parameters: the config part of the
      // round trip is what can break, so those go through the metadata reader only.
      const small = paramLayout(cfg).total <= 2 ** 20;
      const back = small ? roundTrip(cfg) : readCheckpointInfo(encodeCheckpointMetadataOnly(cfg), 'rt').config;
      expect(back, JSON.stringify(raw)).toEqual(cfg);
    }
    // The table must exercise both outcomes, or the property above says nothing.
    expect(accepted).toBeGreaterThan(20);
    expect(accepted).toBeLessThan(380);
  });
});

describe('checkpoint state is validated before it is used', () => {
  it('a sampler state that is not a uint32 is a ShapeError, not a RangeError (#11.5)', () => {
    const sampler = new WindowSampler(createSyntheticDataset({ seed: 0 }), 'train', { B: 2, L: 1000, seed: 1 });
    for (const rng of [Infinity, -1.5, 2 ** 32, Number.NaN]) {
      expect(() => sampler.setState({ rng, batches: 0 })).toThrow(ShapeError);
    }
  });

  it('negative Adam second moments are refused at load, naming the tensor (#11.6)', () => {
    const cfg = resolveConfig('tiny');
    const layout = paramLayout(cfg);
    const params = packParams(layout, initParams(cfg, 1));
    const v = new Float32Array(layout.total).fill(1e-6);
    const e = layout.entries[2]!;
    v[e.offset + 3] = -0.25;
    const bytes = encodeCheckpoint(cfg, layout, 1, { params, m: new Float32Array(layout.total), v });
    expect(() => decodeCheckpoint(bytes, cfg, layout, 'neg.safetensors')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(bytes, cfg, layout, 'neg.safetensors'))
      .toThrow(`neg.safetensors: tensor 'adam.v.${e.name}' holds a negative second moment -0.25 at index 3`);
    // Zero (and -0) second moments are what a fresh optimizer has: accepted.
    v[e.offset + 3] = -0;
    expect(decodeCheckpoint(encodeCheckpoint(cfg, layout, 1, { params, m: new Float32Array(layout.total), v }), cfg, layout).v![e.offset + 3]).toBe(-0);
  });

  it('the non-finite stop names what was non-finite and lists causes without picking one (#11.6)', () => {
    expect(nonFiniteWhat({ loss: Number.NaN, gradNorm: 3 })).toBe('loss');
    expect(nonFiniteWhat({ loss: 1, gradNorm: Infinity })).toBe('gradient norm');
    expect(nonFiniteWhat({ loss: Infinity, gradNorm: Number.NaN })).toBe('loss and gradient norm');
    expect(nonFiniteWhat({ loss: 1, gradNorm: 2 })).toBe('a gradient');
    const tiny = resolveConfig('tiny');
    const causes = nonFiniteCauses(tiny);
    expect(causes).toMatch(/^possible causes: .*amplitude/);
    // The values the run used, whatever the preset says today.
    expect(causes).toContain(`optimizer.lr = ${tiny.optimizer.lr}`);
    expect(causes).toContain(`optimizer.maxGradNorm = ${tiny.optimizer.maxGradNorm}`);
    expect(causes).not.toMatch(/Lower/i);
  });
});

/** A safetensors file holding only a config in its metadata, as encodeCheckpoint writes it. */
function encodeCheckpointMetadataOnly(cfg: CpcTrainConfig): Uint8Array {
  const empty = { entries: [], total: 0, byName: new Map(), groups: new Map() } as unknown as ReturnType<typeof paramLayout>;
  const none = new Float32Array(0);
  return encodeCheckpoint(cfg, empty, 0, { params: none, m: none, v: none });
}

describe('cpcChance: one positive among the candidates of each negatives mode', () => {
  it('batch 1/B, batch-time 1/(B·T), sampled 1/(n+1)', () => {
    const cfg = resolveConfig('small');
    expect(cpcChance({ ...cfg, negatives: { kind: 'batch' } }, 126)).toBe(1 / cfg.batchSize);
    expect(cpcChance({ ...cfg, negatives: { kind: 'batch-time' } }, 126)).toBe(1 / (cfg.batchSize * 126));
    expect(cpcChance({ ...cfg, negatives: { kind: 'sampled', n: 128, shared: true } }, 126)).toBe(1 / 129);
  });
});
