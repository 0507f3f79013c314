// Types for build.mjs (plain JS): it re-exports the bundler of
// `ws-outbox build`.
export { build, BuildError, esbuildOptions, sizeTable, splittingOptions, type BuildOptions, type BuiltFunction } from '@ws-outbox/gateway';
