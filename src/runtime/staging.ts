// Reusable MAP_READ staging buffers for async downloads. A read takes a free slot (growing it only
// when a larger read arrives), so steady-state reads create no buffers; when all slots are in
// flight, the next read waits for the oldest instead of allocating.
import type { GpuContext } from './device.ts';
import { createBuffer, decodeTensorBytes, numel, DTYPE_BYTES, type Tensor } from './tensor.ts';
import { BufferUsage, MapMode } from './usage.ts';

interface Slot {
  buffer: GPUBuffer | null;
  busy: Promise<void> | null;
}

export class StagingRing {
  private readonly ctx: GpuContext;
  private readonly slots: Slot[];
  get slotCount(): number { return this.slots.length; }
  private next = 0;
  /** Number of staging buffers ever created: tests assert it stays flat. */
  buffersCreated = 0;

  constructor(ctx: GpuContext, slotCount = 4) {
    this.ctx = ctx;
    this.slots = Array.from({ length: slotCount }, () => ({ buffer: null, busy: null }));
    ctx.addDisposer(() => this.destroy());
  }

  /** Copies `size` bytes at `offset` of `src` to the host. The copy is submitted immediately. */
  async readBytes(src: GPUBuffer, offset: number, size: number, op = 'readBytes'): Promise<ArrayBuffer> {
    this.ctx.assertAlive(op);
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    while (slot.busy) await slot.busy;
    let release!: () => void;
    slot.busy = new Promise<void>((r) => { release = r; });
    try {
      const padded = Math.ceil(size / 4) * 4;
      if (!slot.buffer || slot.buffer.size < padded) {
        slot.buffer?.destroy();
        const cap = Math.max(256, 2 ** Math.ceil(Math.log2(padded)));
        slot.buffer = createBuffer(this.ctx, cap, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'staging');
        this.buffersCreated++;
      }
      const buf = slot.buffer;
      const enc = this.ctx.device.createCommandEncoder({ label: op });
      enc.copyBufferToBuffer(src, offset, buf, 0, padded);
      this.ctx.device.queue.submit([enc.finish()]);
      await Promise.race([
        buf.mapAsync(MapMode.READ, 0, padded),
        this.ctx.lost.then(() => this.ctx.assertAlive(op)),
      ]);
      const out = buf.getMappedRange(0, padded).slice(0, size);
      buf.unmap();
      return out;
    } finally {
      slot.busy = null;
      release();
    }
  }

  async readTensor(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
    const n = numel(t.shape);
    const bytes = await this.readBytes(t.buffer, t.byteOffset, n * DTYPE_BYTES[t.dtype], `readTensor(${t.label})`);
    return decodeTensorBytes(t.dtype, bytes, n);
  }

  destroy(): void {
    for (const s of this.slots) { s.buffer?.destroy(); s.buffer = null; }
  }
}

const rings = new WeakMap<GpuContext, StagingRing>();

/** The default staging ring of a device. */
export function stagingRing(ctx: GpuContext): StagingRing {
  let r = rings.get(ctx);
  if (!r) {
    r = new StagingRing(ctx);
    rings.set(ctx, r);
  }
  return r;
}

/** Downloads a tensor through the device's staging ring. */
export function readTensor(ctx: GpuContext, t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
  return stagingRing(ctx).readTensor(t);
}
