// An esbuild plugin for the functions that opt into splitting (build.ts): a Node built-in
// imported by an ES module (`import { STATUS_CODES } from 'node:http'`) is required instead,
// through the require() the bundle's banner makes. The module object is the same, but loading it
// skips Node's ESM facade for built-ins, which reads every export of the module once: for
// node:http that wakes its lazy getters (WebSocket, MessageEvent, …) and loads Node's bundled
// undici, 11-20 ms of a cold start on this CPU that a function never calling fetch or the SDK's
// HTTP stack does not need (`import('node:http')` 22.7 ms against 2.3 ms for require; Middy's
// util imports it). A function that does need undici pays for it at its first use instead, at its
// CPU share: hence only with the opt-in. bench/README.md, "Cold start".
import { isBuiltin } from 'node:module';
import type { Plugin } from 'esbuild';

const namespace = 'ws-outbox-builtin';

export const builtinsViaRequire: Plugin = {
  name: 'ws-outbox-builtins-via-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      args.kind === 'import-statement' && isBuiltin(args.path) ? { path: args.path, namespace } : undefined,
    );
    // A CommonJS module of one line: esbuild gives its importers the usual ESM interop (default and named imports).
    build.onLoad({ filter: /.*/, namespace }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};
