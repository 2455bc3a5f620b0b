// The float64 CPU oracle every GPU kernel is checked against (DESIGN §4–5).
export * from './random.ts';
export * from './finiteDifference.ts';
export * from './conv1d.ts';
export * from './activations.ts';
export * from './channelNorm.ts';
export * from './linear.ts';
export * from './encoder.ts';
export * from './gru.ts';
export * from './infonce.ts';
export * from './adam.ts';
export * from './cpcModel.ts';
