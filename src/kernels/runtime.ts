// Transitional: the runtime lives in ./runtime/ (index.ts is its facade). Modules outside
// src/kernels and src/graph that still import this path move to './runtime/index.ts'; then
// this file goes.
export * from './runtime/index.ts';
