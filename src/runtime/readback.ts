// A fixed ring of MAP_READ buffers that a command encoder copies small results into (loss,
// accuracy, norms) as part of the step's own submit; the host maps them later. No buffer is created
// after construction, and a slot is reused only once its previous read has landed.
import type { GpuContext } from './device.ts';
import { createBuffer, alignUp } from './tensor.ts';
import { BufferUsage, MapMode } from './usage.ts';

export interface ReadbackSource {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

interface Slot {
  buffer: GPUBuffer;
  pending: Promise<unknown> | null;
}

export class ReadbackRing {
  private readonly ctx: GpuContext;
  private readonly slots: Slot[];
  private next = 0;
  readonly slotBytes: number;

  constructor(ctx: GpuContext, slotBytes: number, slotCount: number, label = 'readback') {
    this.ctx = ctx;
    this.slotBytes = alignUp(slotBytes, 4);
    this.slots = Array.from({ length: slotCount }, (_, i) => ({
      buffer: createBuffer(ctx, this.slotBytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, `${label}.${i}`),
      pending: null,
    }));
  }

  /** The next slot, once its previous read has completed (waits only when every slot is in flight). */
  async acquire(): Promise<number> {
    const i = this.next;
    this.next = (this.next + 1) % this.slots.length;
    const s = this.slots[i]!;
    while (s.pending) await s.pending.catch(() => undefined);
    return i;
  }

  /** Records copies of `sources`, packed back to back, into slot `i`. */
  encodeCopy(enc: GPUCommandEncoder, i: number, sources: readonly ReadbackSource[]): void {
    let at = 0;
    for (const s of sources) {
      enc.copyBufferToBuffer(s.buffer, s.offset, this.slots[i]!.buffer, at, s.size);
      at += s.size;
    }
    if (at > this.slotBytes) throw new RangeError(`ReadbackRing: ${at} bytes exceed the slot size ${this.slotBytes}`);
  }

  /** Maps slot `i` after the submit that filled it; resolves with a copy of its bytes. */
  read(i: number, op: string): Promise<ArrayBuffer> {
    const s = this.slots[i]!;
    const p = (async () => {
      try {
        await Promise.race([
          s.buffer.mapAsync(MapMode.READ, 0, this.slotBytes),
          this.ctx.lost.then(() => this.ctx.assertAlive(op)),
        ]);
        const out = s.buffer.getMappedRange(0, this.slotBytes).slice(0);
        s.buffer.unmap();
        return out;
      } finally {
        s.pending = null;
      }
    })();
    s.pending = p;
    return p;
  }

  destroy(): void {
    for (const s of this.slots) s.buffer.destroy();
  }
}
