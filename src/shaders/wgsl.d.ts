// WGSL sources are imported as strings: vite handles `?raw` natively (tests, demo), and the package
// build (scripts/build.mjs) inlines every `?raw` import, so the same import works in every runtime.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
