// Child-process probe for the memory bound (tests/cliCorpus.test.ts): opens a corpus with a
// --data-memory budget, draws batches until every pack has been decoded at least once, and prints
// {"baseline", "peak", "packs", "loads"} — RSS before opening the corpus and the process's peak RSS (bytes).
import { PackSampler } from '../../src/cpc/data/packSampler.ts';
import { openCorpus } from '../../src/node/corpus.ts';

const [dir, memory, cacheDir] = process.argv.slice(2);
const baseline = process.memoryUsage().rss;
const corpus = await openCorpus(dir!, { memoryBytes: Number(memory), cacheDir: cacheDir!, log: () => {} });
const source = corpus.packSource(8, 10240);
const sampler = new PackSampler(source, { B: 8, L: 10240, seed: 1 });
while (source.loads <= source.packCount) await sampler.next();
process.stdout.write(`${JSON.stringify({ baseline, peak: process.resourceUsage().maxRSS * 1024, packs: source.packCount, loads: source.loads })}\n`);
