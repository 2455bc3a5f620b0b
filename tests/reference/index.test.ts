import { describe, expect, it } from 'vitest';
import * as ref from './index.ts';

describe('tests/reference index', () => {
  it('re-exports every reference function', () => {
    const names = [
      'conv1dForward', 'conv1dBackward', 'conv1dOutputLength',
      'reluForward', 'reluBackward',
      'channelNormForward', 'channelNormBackward',
      'linearForward', 'linearBackward',
      'encoderForward', 'encoderBackward', 'encoderOutputLength',
      'gruForward', 'gruBackward',
      'infoNceForward', 'infoNceBackward', 'sampleNegatives', 'pcgHash',
      'adamStep', 'globalNormClip', 'lrSchedule',
      'cpcLossAndGrads', 'cpcParamShapes', 'cpcForward', 'cpcBackward', 'cpcInitParams',
      'numericGradient', 'checkGradient', 'assertGradientClose', 'compareGradients',
      'mulberry32', 'randn', 'randomArray',
    ];
    const exported = ref as unknown as Record<string, unknown>;
    for (const n of names) expect(typeof exported[n], n).toBe('function');
  });
});
