import { RELIED_LIMITS, type GpuContext } from '../runtime/device.ts';

export interface DeviceInfo {
  adapter: GpuContext['adapter'];
  features: string[];
  adapterFeatures: string[];
  limits: Record<string, number>;
}

export function deviceInfo(ctx: GpuContext): DeviceInfo {
  const limits: Record<string, number> = {};
  for (const name of RELIED_LIMITS) limits[name] = ctx.limits[name];
  return { adapter: ctx.adapter, features: [...ctx.features].sort(), adapterFeatures: [...ctx.adapterFeatures], limits };
}

export function formatDeviceInfo(info: DeviceInfo): string {
  const a = info.adapter;
  const lines = [
    `adapter: ${a.description || '(no description)'}`,
    `  vendor: ${a.vendor || '-'}  architecture: ${a.architecture || '-'}  device: ${a.device || '-'}${a.isFallbackAdapter ? '  (fallback adapter)' : ''}`,
    `features (enabled): ${info.features.join(', ') || '-'}`,
    'limits:',
    ...Object.entries(info.limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
  ];
  return lines.join('\n');
}
