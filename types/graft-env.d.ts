// WGSL sources are imported as strings: `import src from '../../shaders/x.wgsl?raw'`.
// Vite/vitest handle `?raw` natively; in plain Node scripts/wgsl-loader.js does.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
