// The first optimizer, kept for its callers (benchmarks, the engine's training test): a stateless
// plain-SGD step. The optimizer family (SGD with momentum, Adam, AdamW, groups) is in optim.ts.
export { sgdStep } from './optim.ts';
