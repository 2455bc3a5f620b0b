// Seeded uniform [0, 1) for test data: the oracle's generator (tests/reference/random.ts), one copy.
export { mulberry32 } from '../reference/random.ts';
