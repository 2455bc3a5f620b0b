// Node ESM loader hook: `import src from './x.wgsl?raw'` yields the file's text, the same contract
// vite gives the browser build and vitest. Lets a test helper run the TypeScript sources with no build step.
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('?raw')) {
    const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
