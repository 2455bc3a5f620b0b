// The demo charts' tick labels: as many decimals as the range needs, never two alike.
import { expect, it } from 'vitest';
import { tickLabels } from '../demo/ticks.ts';

it('gives each tick increment its decimals', () => {
  expect(tickLabels([0, 10, 20, 30], 10)).toEqual(['0', '10', '20', '30']);
  expect(tickLabels([1.9, 2.0, 2.1], 0.1)).toEqual(['1.9', '2.0', '2.1']);
  // Early training: the loss sits at ln 8 = 2.0794… within 1e-5 (the issue saw "2.079" three times).
  expect(tickLabels([2.07942, 2.07944, 2.07946], 0.00002)).toEqual(['2.07942', '2.07944', '2.07946']);
  expect(tickLabels([0, 0.25, 0.5, 0.75, 1], 0.25, 100, '%')).toEqual(['0%', '25%', '50%', '75%', '100%']);
});

it('writes a 2.5 × 10^n increment exactly (0.25 is not "0.3")', () => {
  expect(tickLabels([0.25, 0.5, 0.75], 0.25)).toEqual(['0.25', '0.50', '0.75']);
  expect(tickLabels([1.9, 1.925, 1.95], 0.025)).toEqual(['1.900', '1.925', '1.950']);
});

it('adds decimals when labels would still read the same', () => {
  expect(tickLabels([0.1, 0.12], 0.1)).toEqual(['0.10', '0.12']);
});

it('survives a zero or non-finite increment (one tick, or an empty axis)', () => {
  expect(tickLabels([2], 0)).toEqual(['2']);
  expect(tickLabels([], Number.NaN)).toEqual([]);
});
