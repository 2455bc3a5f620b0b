// End-to-end training-step benchmark of the CLI (`cpc-webgpu bench --e2e`): bench/e2eCore.ts's rows,
// plus — in the same run on the same adapter — the same model and loss trained with
// tfjs-backend-webgpu, with jax-js (jit, where @jax-js/jax is installed), and (where Debian's
// python3-torch is installed) with PyTorch on the CPU (interop/pytorch, same init and batch).
// Node only: the peers need Dawn in Node and a subprocess.
import { tunedSuite } from './tuned.ts';
import type { BenchSuite } from './types.ts';
import { e2eSuiteWith, type E2ePeer } from './e2eCore.ts';
import { JAX_PACKAGE, peerConfigOf } from './peer/common.ts';
import { timePeerSteps } from './peer/tfjsCpc.ts';
import { timeTorchPeer, torchPeerMissing } from './peer/torchCpc.ts';

const tfjsPeer: E2ePeer = async ({ b, name, cfg }) => {
  const peerCfg = peerConfigOf(cfg);
  if (typeof peerCfg === 'string') return { fields: { peer_missing: peerCfg } };
  b.log(`e2e.${name}: peer tfjs-backend-webgpu`);
  const p = await timePeerSteps(peerCfg, { warmup: 1, steps: b.quick ? 2 : 3 });
  b.log(`e2e.${name}: peer ${p.msPerStep.toFixed(1)} ms/step`);
  return { fields: { peer: 'tfjs-backend-webgpu@4.22.0', peer_ms: Math.round(p.msPerStep * 10) / 10 }, ratios: { ratio_vs_peer: p.msPerStep } };
};

/** The jax-js peer module, or why it cannot load: imported on first use so a missing package costs one line, not the suite. */
async function loadJaxPeer(): Promise<typeof import('./peer/jaxCpc.ts') | string> {
  try {
    return await import('./peer/jaxCpc.ts');
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && (err.message ?? '').includes('@jax-js/jax')) return `@jax-js/jax is not installed (install it with: npm install ${JAX_PACKAGE})`;
    throw e;
  }
}

const jaxPeer: E2ePeer = async ({ b, name, cfg }) => {
  const peerCfg = peerConfigOf(cfg);
  if (typeof peerCfg === 'string') return { fields: { peer_jax_missing: peerCfg } };
  const jax = await loadJaxPeer();
  if (typeof jax === 'string') {
    b.log(`e2e.${name}: no jax-js peer: ${jax}`);
    return { fields: { peer_jax_missing: jax } };
  }
  b.log(`e2e.${name}: peer jax-js (jit, webgpu)`);
  const p = await jax.timeJaxPeerSteps(peerCfg, { warmup: 1, steps: b.quick ? 2 : 3 });
  b.log(`e2e.${name}: jax-js ${p.msPerStep.toFixed(1)} ms/step (first step, trace + compile: ${(p.firstStepMs / 1000).toFixed(1)} s)`);
  return {
    fields: { peer_jax: `${JAX_PACKAGE} (jit, webgpu)`, peer_jax_ms: Math.round(p.msPerStep * 10) / 10, peer_jax_first_step_s: Math.round(p.firstStepMs / 100) / 10 },
    ratios: { ratio_vs_jax: p.msPerStep },
  };
};

const torchPeer: E2ePeer = async ({ b, name, cfg, signal }) => {
  const missing = torchPeerMissing();
  if (missing) {
    b.log(`e2e.${name}: no PyTorch peer: ${missing}`);
    return { fields: { peer_torch_missing: missing } };
  }
  b.log(`e2e.${name}: peer PyTorch CPU`);
  const t = await timeTorchPeer(cfg, signal, { warmup: 1, steps: b.quick ? 2 : 3 });
  b.log(`e2e.${name}: ${t.name} ${t.msPerStep.toFixed(1)} ms/step`);
  return { fields: { peer_torch: t.name, peer_torch_ms: Math.round(t.msPerStep * 10) / 10 }, ratios: { ratio_vs_torch: t.msPerStep } };
};

/**
 * A peer that fails (a driver the peer framework trips on, a broken python) leaves a note in the row
 * instead of losing the whole suite's numbers: on a lent machine there is one run to get them.
 */
function tolerant(prefix: string, peer: E2ePeer): E2ePeer {
  return async (p) => {
    try {
      return await peer(p);
    } catch (e) {
      const message = (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 3).join(' ');
      p.b.log(`e2e.${p.name}: ${prefix} failed: ${message}`);
      return { fields: { [`${prefix}_error`]: message } };
    }
  };
}

const e2eWithPeers = e2eSuiteWith([tolerant('peer', tfjsPeer), tolerant('peer_jax', jaxPeer), tolerant('peer_torch', torchPeer)]);

/** `bench --e2e --no-tune`: the fixed-kernel rows with their peers only (tuning costs minutes per preset). */
export const e2ePeersSuite: BenchSuite = e2eWithPeers;

/** The Node e2e suite: fixed-kernel rows with their peers, then tuned-vs-fixed rows (bench/tuned.ts). */
export const e2eSuite: BenchSuite = {
  name: 'e2e',
  async run(b) {
    return [...await e2eWithPeers.run(b), ...await tunedSuite.run(b)];
  },
};
