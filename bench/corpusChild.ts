// Child process of the corpus benchmark (bench/corpus.ts): one corpus, one budget, measured in a fresh
// process so its peak RSS is its own. Prints one JSON line: first and cached scan times, hours, the
// windows/s a PackSampler produces for the small shape (B = 8, L = 20480) over `seconds` of drawing or
// two full pack loads (decode waits included: the rate an infinitely fast trainer would see), and RSS.
import { PackSampler } from '../src/cpc/data/packSampler.ts';
import { openCorpus } from '../src/node/corpus.ts';

const [dir, memory, cacheDir, seconds] = process.argv.slice(2);
const baseline = process.memoryUsage().rss;
let t = performance.now();
const first = await openCorpus(dir!, { memoryBytes: Number(memory), cacheDir: cacheDir!, log: () => {} });
const scanFirst = (performance.now() - t) / 1000;
t = performance.now();
const corpus = await openCorpus(dir!, { memoryBytes: Number(memory), cacheDir: cacheDir!, log: () => {} });
const scanCached = (performance.now() - t) / 1000;
const hours = first.scan.entries.reduce((a, e) => a + e.samples, 0) / 16000 / 3600;
const B = 8, L = 20480;
const source = corpus.packSource(B, L);
const sampler = new PackSampler(source, { B, L, seed: 1 });
await sampler.next(); // the first pack: decoded before training starts
t = performance.now();
let batches = 0;
const stopLoads = source.loads + 2;
while (performance.now() - t < Number(seconds) * 1000 && source.loads < stopLoads) { await sampler.next(); batches++; }
const s = (performance.now() - t) / 1000;
process.stdout.write(`${JSON.stringify({
  hours, files: first.scan.entries.length, scan_first_s: scanFirst, scan_cached_s: scanCached, packs: source.packCount,
  windows_per_s: (batches * B) / s, batches, seconds: s, baseline_rss: baseline, peak_rss: process.resourceUsage().maxRSS * 1024,
})}\n`);
