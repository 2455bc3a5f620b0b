// Shader modules and compute pipelines, created once and cached by (shader, entry point, override
// constants). Pipelines are built with createComputePipelineAsync so compilation never blocks.
import type { GpuContext } from './device.ts';
import { ShaderCompilationError, fromGpuError } from './errors.ts';

export interface KernelSource {
  /** Stable name: the cache key and the label in errors and profiles. */
  readonly name: string;
  readonly code: string;
}

export interface PipelineKey {
  readonly shader: KernelSource;
  readonly entryPoint?: string;
  /** WGSL `override` constants: validated integers/floats only, never strings. */
  readonly constants?: Readonly<Record<string, number>>;
}

function assertNumericConstants(name: string, constants: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(constants)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ShaderCompilationError(name, `override constant ${k}=${String(v)} must be a finite number with an identifier name`);
    }
  }
}

export function pipelineCacheKey(key: PipelineKey): string {
  const c = key.constants ?? {};
  const consts = Object.keys(c).sort().map((k) => `${k}=${c[k]}`).join(',');
  return `${key.shader.name}#${key.entryPoint ?? 'main'}{${consts}}`;
}

/** Formats compilation messages as `name:line:col: message` followed by the offending WGSL line. */
export function formatCompilationMessages(name: string, code: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = code.split('\n');
  return messages.map((m) => {
    const src = lines[m.lineNum - 1];
    return `${name}.wgsl:${m.lineNum}:${m.linePos}: ${m.type}: ${m.message}${src !== undefined ? `\n    ${src.trim()}` : ''}`;
  }).join('\n');
}

export class PipelineCache {
  private readonly ctx: GpuContext;
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  hits = 0;
  misses = 0;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
  }

  get size(): number {
    return this.pipelines.size;
  }

  private module(shader: KernelSource): Promise<GPUShaderModule> {
    let m = this.modules.get(shader.name);
    if (!m) {
      m = (async () => {
        const d = this.ctx.device;
        d.pushErrorScope('validation');
        const mod = d.createShaderModule({ label: shader.name, code: shader.code });
        const info = await mod.getCompilationInfo();
        const scopeErr = await d.popErrorScope();
        const errors = info.messages.filter((msg) => msg.type === 'error');
        if (errors.length) {
          throw new ShaderCompilationError(shader.name, `WGSL compilation failed:\n${formatCompilationMessages(shader.name, shader.code, errors)}`);
        }
        if (scopeErr) throw new ShaderCompilationError(shader.name, `WGSL compilation failed: ${scopeErr.message}`);
        return mod;
      })();
      this.modules.set(shader.name, m);
      m.catch(() => this.modules.delete(shader.name));
    }
    return m;
  }

  /** Returns the cached pipeline for `key`, building it once. */
  get(key: PipelineKey): Promise<GPUComputePipeline> {
    const cacheKey = pipelineCacheKey(key);
    const cached = this.pipelines.get(cacheKey);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    this.ctx.assertAlive(`pipeline ${cacheKey}`);
    if (key.constants) assertNumericConstants(key.shader.name, key.constants);
    const p = (async () => {
      const module = await this.module(key.shader);
      const d = this.ctx.device;
      d.pushErrorScope('validation');
      try {
        return await d.createComputePipelineAsync({
          label: cacheKey,
          layout: 'auto',
          compute: { module, entryPoint: key.entryPoint ?? 'main', constants: key.constants as Record<string, number> | undefined },
        });
      } catch (e) {
        throw new ShaderCompilationError(key.shader.name, `pipeline ${cacheKey} failed: ${(e as Error).message}`);
      } finally {
        const err = await d.popErrorScope();
        if (err) throw fromGpuError(`pipeline ${cacheKey}`, err);
      }
    })();
    this.pipelines.set(cacheKey, p);
    p.catch(() => this.pipelines.delete(cacheKey));
    return p;
  }
}

const caches = new WeakMap<GpuContext, PipelineCache>();

/** The one pipeline cache of a device. */
export function pipelineCache(ctx: GpuContext): PipelineCache {
  let c = caches.get(ctx);
  if (!c) {
    c = new PipelineCache(ctx);
    caches.set(ctx, c);
  }
  return c;
}
