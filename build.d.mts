// Types for build.mjs (plain JS so `node build.mjs` needs no loader): it re-exports the bundler of
// `ws-outbox build`.
export { build, BuildError, esbuildOptions, sizeTable, type BuildOptions, type BuiltFunction } from './src/local/build.ts';
