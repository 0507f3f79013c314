// The AWS SDK v3 that Lambda's Node runtimes provide. On Lambda, code that does not ship its own
// @aws-sdk/* packages imports the runtime's (from /var/runtime/node_modules, after the function's
// own node_modules). Locally, the gateway's own @aws-sdk/* packages play that part:
//   - the gateway makes a folder, <dir>/node_modules/@aws-sdk/<name>, of links to them (only
//     @aws-sdk/*: nothing else of the gateway's becomes visible to function code);
//   - CommonJS finds it through NODE_PATH (as on Lambda, whose NODE_PATH names the runtime's);
//   - ES modules ignore NODE_PATH, so the worker registers a resolve hook that retries a bare
//     `@aws-sdk/…` specifier from that folder when the function's own resolution finds nothing.
// The function's own copy always wins: the hook and NODE_PATH act only when it has none.
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The variable that tells the worker where the runtime SDK is (the worker removes it). */
export const runtimeSdkVariable = 'WS_OUTBOX_RUNTIME_SDK';

/** The variable naming the node_modules the gateway installed the code's dependencies into (function-code.ts). */
export const dependenciesVariable = 'WS_OUTBOX_DEPENDENCIES';

/** The @aws-sdk folder the gateway itself resolves its SDK from. */
const ownSdkFolder = (): string | undefined => {
  const require = nodeModule.createRequire(import.meta.url);
  try {
    // client-dynamodb is a dependency of the gateway; its folder's parent holds every @aws-sdk/* installed beside it.
    return dirname(dirname(require.resolve('@aws-sdk/client-dynamodb/package.json')));
  } catch {
    return undefined;
  }
};

/**
 * Makes `<dir>/node_modules/@aws-sdk/*` (links to the gateway's copies) and returns that
 * node_modules folder, or undefined when the gateway has no SDK to offer.
 */
export const prepareRuntimeSdk = (dir: string): string | undefined => {
  const source = ownSdkFolder();
  if (source === undefined) return undefined;
  const modules = join(dir, 'node_modules');
  const target = join(modules, '@aws-sdk');
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(source)) {
    try {
      symlinkSync(join(source, name), join(target, name), 'dir');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return modules;
};

// The resolve hook. Where Node has synchronous in-thread hooks (registerHooks: 22.15 and later,
// Node 24) it is a plain function; measured on this machine it adds nothing to init, where
// register()'s hook thread (Node 20) adds 30-160 ms. There the same hook runs from this source.
// Installed dependencies are tried for any bare specifier, the runtime SDK for @aws-sdk/* only.
const hookSource = `
let fallbacks = [];
export async function initialize(data) { fallbacks = data.fallbacks; }
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || /^[./]|^[a-z]+:/.test(specifier)) throw error;
    for (const { parentURL, only } of fallbacks) {
      if (only !== undefined && !specifier.startsWith(only)) continue;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {}
    }
    throw error;
  }
}
`;

/** In the worker: lets ES modules resolve `@aws-sdk/*` from the runtime SDK folder (see above). */
type Resolve = (specifier: string, context: { parentURL?: string }, next: (specifier: string, context: { parentURL?: string }) => unknown) => unknown;

/** The hook as a function, for registerHooks (the same rules as hookSource). */
const syncResolve =
  (fallbacks: Array<{ parentURL: string; only?: string }>): Resolve =>
  (specifier, context, next) => {
    try {
      return next(specifier, context);
    } catch (error) {
      if ((error as { code?: string })?.code !== 'ERR_MODULE_NOT_FOUND' || /^[./]|^[a-z]+:/.test(specifier)) throw error;
      for (const { parentURL, only } of fallbacks) {
        if (only !== undefined && !specifier.startsWith(only)) continue;
        try {
          return next(specifier, { ...context, parentURL });
        } catch {}
      }
      throw error;
    }
  };

export const registerRuntimeSdk = (): void => {
  const sdk = process.env[runtimeSdkVariable];
  const dependencies = process.env[dependenciesVariable];
  delete process.env[runtimeSdkVariable];
  delete process.env[dependenciesVariable];
  const parentIn = (modules: string) => pathToFileURL(join(dirname(modules), 'resolve-from-here.js')).href;
  const fallbacks = [...(dependencies ? [{ parentURL: parentIn(dependencies) }] : []), ...(sdk ? [{ parentURL: parentIn(sdk), only: '@aws-sdk/' }] : [])];
  if (fallbacks.length === 0) return;
  const { registerHooks } = nodeModule as { registerHooks?: (hooks: { resolve: Resolve }) => unknown };
  if (registerHooks) registerHooks({ resolve: syncResolve(fallbacks) });
  else nodeModule.register(`data:text/javascript,${encodeURIComponent(hookSource)}`, { data: { fallbacks } });
};
