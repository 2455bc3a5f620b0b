// WGSL sources are imported as strings: vite handles `?raw` natively (tests, demo), and the Node
// CLI registers bin/raw-loader.mjs, so the same import works in every runtime.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
