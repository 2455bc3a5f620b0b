// `cpc-webgpu encode --checkpoint F --data DIR --out DIR`: frozen features of every .wav file of a
// folder (or one .wav file), one matrix [frames, dim] per file at 10 ms frames — the export CPC_audio
// and ZeroSpeech tools use for k-means units, ABX or ASR. How files longer than a window are cut
// and what that does at window boundaries: src/cpc/encodeFeatures.ts.
import { readdir, stat, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeCheckpoint, readCheckpointInfo } from '../cpc/checkpoint.ts';
import { decodeWav, DEFAULT_MAX_WAV_BYTES, WavError } from '../cpc/data/wav.ts';
import { encoderGeometry } from '../cpc/data/frames.ts';
import { encodeFeatures, encodeNpy } from '../cpc/encodeFeatures.ts';
import { paramLayout } from '../cpc/params.ts';
import { encodeSafetensors } from '../cpc/safetensors.ts';
import { CpcTrainer } from '../cpc/trainer.ts';
import { FileTooLargeError, readFileLimited, writeFileAtomic } from '../node/atomicFile.ts';
import { nodeCheckpointStore } from '../node/checkpointStore.ts';
import { acquireNodeDevice } from '../node/device.ts';
import { fsReason, layerFlag, UsageError } from './usage.ts';

export const ENCODE_USAGE = `usage: cpc-webgpu encode --checkpoint FILE --data DIR|FILE.wav --out DIR [options]
  --checkpoint FILE           a checkpoint written by \`cpc-webgpu train\` (config read from it)
  --data DIR|FILE.wav         a folder of .wav files (any rate, mono or not: resampled to 16 kHz mono) or one file
  --out DIR                   written: one <name>.safetensors (tensor "features") or <name>.npy per input
  --layer z|c                 encoder output z [frames, C] or GRU context c [frames, H] (default c)
  --format safetensors|npy    (default safetensors; its metadata holds layer, hop, receptive field, source)
Frame f covers samples [160f, 160f + receptive field) of the file at 16 kHz.
`;

async function inputFiles(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new UsageError('encode', `--data '${path}': ${fsReason(e)}`);
  }
  if (st.isFile()) return [path];
  const names = (await readdir(path)).filter((n) => /\.wav$/i.test(n)).sort();
  if (names.length === 0) throw new UsageError('encode', `--data '${path}': no .wav files`);
  return names.map((n) => join(path, n));
}

export async function encodeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      layer: { type: 'string', default: 'c' },
      format: { type: 'string', default: 'safetensors' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(ENCODE_USAGE);
    return 0;
  }
  for (const flag of ['checkpoint', 'data', 'out'] as const) {
    if (!values[flag]) throw new UsageError('encode', `--${flag} is required\n${ENCODE_USAGE}`);
  }
  const layer = layerFlag('encode', values.layer);
  const format = values.format!;
  if (format !== 'safetensors' && format !== 'npy') throw new UsageError('encode', `--format must be safetensors or npy, got '${format}'`);
  const note = (msg: string) => process.stderr.write(`${msg}\n`);

  const ckpt = values.checkpoint!;
  const bytes = await nodeCheckpointStore.read(ckpt);
  const info = readCheckpointInfo(bytes, ckpt);
  decodeCheckpoint(bytes, info.config, paramLayout(info.config), ckpt);
  const files = await inputFiles(values.data!);
  await mkdir(values.out!, { recursive: true });

  const ctx = await acquireNodeDevice({ label: 'encode' });
  let trainer: CpcTrainer | null = null;
  try {
    trainer = await CpcTrainer.create(ctx, info.config);
    await trainer.loadCheckpoint(bytes, ckpt);
    const rf = encoderGeometry(info.config.kernels, info.config.strides).receptiveField;
    let written = 0;
    for (const file of files) {
      let samples: Float32Array;
      try {
        samples = decodeWav(await readFileLimited(file, DEFAULT_MAX_WAV_BYTES), basename(file)).samples;
      } catch (e) {
        if (e instanceof WavError) { note(`encode: skipped ${file}: ${e.reason}`); continue; }
        if (e instanceof FileTooLargeError) { note(`encode: skipped ${file}: ${e.message}`); continue; }
        throw e;
      }
      if (samples.length < rf) { note(`encode: skipped ${file}: ${samples.length} samples at 16 kHz, shorter than the receptive field (${rf})`); continue; }
      const f = await encodeFeatures(trainer, samples, layer);
      const stem = basename(file).replace(/\.wav$/i, '');
      const outPath = join(values.out!, `${stem}.${format}`);
      const payload = format === 'npy'
        ? encodeNpy(f.features, f.frames, f.dim)
        : encodeSafetensors({ features: { dtype: 'F32', shape: [f.frames, f.dim], data: f.features } }, {
          layer, hop: String(f.hop), receptive_field: String(f.receptiveField), sample_rate: '16000', source: basename(file), checkpoint: basename(ckpt),
        });
      await writeFileAtomic(outPath, payload);
      written++;
    }
    note(`encode: ${written} of ${files.length} files → ${values.out} (${layer}, ${format})`);
    return 0;
  } finally {
    trainer?.dispose();
    ctx.dispose();
  }
}
