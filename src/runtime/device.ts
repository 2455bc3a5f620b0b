// Device acquisition and the per-device context every other runtime module works through.
// Runs unchanged in the browser (navigator.gpu) and in Node (the `gpu` object from src/node).
import {
  CpcError, DeviceLostError, LimitExceededError, NoAdapterError, fromGpuError, type Shapes,
} from './errors.ts';

export const OPTIONAL_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

/** Limits we rely on; reported by `cpc-webgpu info` and checked before any allocation. */
export const RELIED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
  'maxBindGroups',
] as const;
export type ReliedLimit = (typeof RELIED_LIMITS)[number];

/** Limits raised to the adapter's maximum by default: the arena and big-C configs need them. */
const RAISED_LIMITS: ReliedLimit[] = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
];

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  isFallbackAdapter: boolean;
}

export interface AcquireOptions {
  /** The GPU object: `navigator.gpu` in the browser (default), `createNodeGpu()` in Node. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Specific limits a config needs; refused with a clear error when the adapter has less. */
  requiredLimits?: Partial<Record<ReliedLimit, number>>;
  /** 'max' (default) raises the compute limits to the adapter's maximum; 'default' keeps WebGPU's defaults. */
  limits?: 'max' | 'default';
  /** Optional features to request when present; default all of OPTIONAL_FEATURES. */
  features?: readonly OptionalFeature[];
  label?: string;
}

export const SOFTWARE_VULKAN_HINT =
  'On Linux without a GPU install Mesa >= 24 lavapipe (Debian 12: ' +
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list && " +
  'apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1), ' +
  'or run scripts/install-system-deps.sh. In a browser, use Chrome/Edge 113+ (or enable WebGPU).';

function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    device: info?.device ?? '',
    // isFallbackAdapter moved onto GPUAdapterInfo; older implementations keep it on the adapter.
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean })?.isFallbackAdapter
      ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}

function isNullBackend(a: AdapterSummary): boolean {
  const text = `${a.vendor} ${a.architecture} ${a.description}`.toLowerCase();
  return /\bnull\b/.test(text);
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly features: ReadonlySet<string>;
  readonly limits: Readonly<Record<ReliedLimit, number>>;
  readonly adapterFeatures: readonly string[];
  readonly lost: Promise<GPUDeviceLostInfo>;
  lostInfo: GPUDeviceLostInfo | null = null;
  /** Errors that escaped every error scope; checked (and thrown) by `scoped`. */
  readonly uncaptured: CpcError[] = [];
  private disposed = false;
  private readonly onDispose: (() => void)[] = [];

  constructor(device: GPUDevice, adapter: GPUAdapter) {
    this.device = device;
    this.adapter = summarizeAdapter(adapter);
    this.adapterFeatures = [...adapter.features].sort();
    this.features = new Set(device.features);
    const limits = {} as Record<ReliedLimit, number>;
    for (const name of RELIED_LIMITS) limits[name] = Number(device.limits[name]);
    this.limits = limits;
    this.lost = device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.uncaptured.push(fromGpuError('uncaptured', e));
    });
  }

  has(feature: OptionalFeature): boolean {
    return this.features.has(feature);
  }

  get isLost(): boolean {
    return this.lostInfo !== null || this.disposed;
  }

  assertAlive(op: string): void {
    if (this.lostInfo) throw new DeviceLostError(op, this.lostInfo.reason, this.lostInfo.message);
    if (this.disposed) throw new DeviceLostError(op, 'destroyed', 'the GpuContext was disposed');
  }

  /** Refuses a request above a device limit before WebGPU sees it. */
  checkLimit(op: string, limit: ReliedLimit, requested: number, shapes?: Shapes): void {
    const allowed = this.limits[limit];
    if (requested > allowed) throw new LimitExceededError(op, limit, requested, allowed, shapes);
  }

  /**
   * Runs `fn` inside validation / out-of-memory / internal error scopes and rethrows the first
   * captured error as a typed error naming `op` and `shapes`. Also surfaces device loss.
   */
  async scoped<T>(op: string, shapes: Shapes | undefined, fn: () => T | Promise<T>): Promise<T> {
    this.assertAlive(op);
    const d = this.device;
    d.pushErrorScope('validation');
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('internal');
    let result: T | undefined;
    let thrown: unknown;
    try {
      result = await fn();
    } catch (e) {
      thrown = e;
    }
    const internal = await d.popErrorScope();
    const oom = await d.popErrorScope();
    const validation = await d.popErrorScope();
    if (thrown !== undefined) throw thrown;
    const err = validation ?? oom ?? internal;
    if (err) throw fromGpuError(op, err, shapes);
    this.throwUncaptured(op);
    return result as T;
  }

  throwUncaptured(op: string): void {
    if (this.uncaptured.length) {
      const first = this.uncaptured.splice(0)[0]!;
      throw new (first.constructor as typeof CpcError)(op, first.message);
    }
  }

  /** Registers cleanup to run on dispose (caches, staging rings). */
  addDisposer(fn: () => void): void {
    this.onDispose.push(fn);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const fn of this.onDispose.splice(0).reverse()) fn();
    this.device.destroy();
  }
}

export async function acquireDevice(options: AcquireOptions = {}): Promise<GpuContext> {
  const op = 'acquireDevice';
  const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoAdapterError(op, `WebGPU is not available in this runtime. ${SOFTWARE_VULKAN_HINT}`);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new NoAdapterError(op, `no WebGPU adapter found. ${SOFTWARE_VULKAN_HINT}`);
  const summary = summarizeAdapter(adapter);
  if (isNullBackend(summary)) {
    throw new NoAdapterError(op, `refusing Dawn's null backend (${summary.description}); results would be fake. ${SOFTWARE_VULKAN_HINT}`);
  }

  const wanted = options.features ?? OPTIONAL_FEATURES;
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  if ((options.limits ?? 'max') === 'max') {
    for (const name of RAISED_LIMITS) requiredLimits[name] = Number(adapter.limits[name]);
  }
  for (const [name, value] of Object.entries(options.requiredLimits ?? {})) {
    const max = Number(adapter.limits[name as ReliedLimit]);
    if (value! > max) throw new LimitExceededError(op, name, value!, max);
    requiredLimits[name] = Math.max(requiredLimits[name] ?? 0, value!);
  }
  const device = await adapter.requestDevice({
    label: options.label ?? 'cpc-webgpu',
    requiredFeatures,
    requiredLimits,
  });
  return new GpuContext(device, adapter);
}
