// Prints the adapter the suite runs on, once, and fails early with the install hint if none.
import { acquireNodeDevice } from '../../src/node/device.ts';

export default async function setup(): Promise<void> {
  const ctx = await acquireNodeDevice({ label: 'globalSetup' });
  const a = ctx.adapter;
  console.log(`[cpc-webgpu tests] adapter: ${a.description} (vendor ${a.vendor}, ${a.architecture}); features: ${[...ctx.features].join(', ')}`);
  ctx.dispose();
}
