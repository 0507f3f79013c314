// How Lambda's Node runtime finds and calls a handler, for the worker (runtime.ts). The rules are
// those of AWS's runtime interface client (aws-lambda-ric), written anew here:
//   - `_HANDLER` is `[dir/]module.name[.nested]`; the module is `LAMBDA_TASK_ROOT/dir/module` tried
//     with the extensions '', .js, .mjs, .cjs in that order, and loaded with Node's own loader
//     (ESM or CommonJS by extension and the nearest package.json, as Node decides);
//   - the handler is `name[.nested]` on the module namespace, else on its default export (a
//     CommonJS module's module.exports, whatever `__esModule` says);
//   - errors are Lambda's: Runtime.MalformedHandlerName, Runtime.ImportModuleError,
//     Runtime.UserCodeSyntaxError, Runtime.HandlerNotFound, Runtime.CallbackHandlerDeprecated.
//   - a handler with a third (callback) parameter fails init on nodejs24.x and later, with
//     Lambda's own message; older runtimes call it with a callback.
// Nothing here imports the gateway: it runs inside the function's process, on the function's Node
// (which may be 20 or 22), so it keeps to what those offer.
//
// Why not run aws-lambda-ric itself behind a local Runtime API, as AWS's emulator does: 4.x builds
// curl and aws-lambda-cpp with cmake at install (a heavy native dependency for a dev tool); it is
// the nodejs24.x client only (it refuses every callback handler, so nodejs22.x and older would
// need 3.x besides); and the freeze would then come from outside, after the HTTP round trip of its
// response, leaving a window in which un-awaited work runs. The worker freezes itself right after
// its result is written (runtime.ts), which the project's guarantee rests on.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export type Handler = (event: unknown, context: unknown, callback?: (error?: unknown, result?: unknown) => void) => unknown;

export class LambdaRuntimeError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

// Lambda's message, word for word, for a callback handler on nodejs24.x.
export const callbackRemovedMessage =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. ' +
  'You need to modify this function to use a supported handler signature to use Node.js 24 or later. ' +
  'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

/** `src/app.handler` → { moduleRoot: 'src', moduleName: 'app', handlerName: 'handler' }. */
export const parseHandler = (spec: string): { moduleRoot: string; moduleName: string; handlerName: string } => {
  if (spec.includes('..')) {
    throw new LambdaRuntimeError(
      'Runtime.MalformedHandlerName',
      `'${spec}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const last = basename(spec);
  const match = /^([^.]*)\.(.*)$/.exec(last);
  if (!match?.[1] || !match[2]) throw new LambdaRuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  return { moduleRoot: spec.slice(0, spec.length - last.length).replace(/\/$/, ''), moduleName: match[1], handlerName: match[2] };
};

/** The runtime's Node major, from AWS_EXECUTION_ENV (`AWS_Lambda_nodejs22.x` → 22); undefined when it is not a Node runtime name. */
export const runtimeMajor = (executionEnv: string | undefined): number | undefined => {
  const major = /nodejs(\d+)\.x$/.exec(executionEnv ?? '')?.[1];
  return major === undefined ? undefined : Number(major);
};

/** The file the handler's module is, as the runtime looks for it; undefined when none exists. */
export const handlerFile = (taskRoot: string, spec: string): string | undefined => {
  const { moduleRoot, moduleName } = parseHandler(spec);
  const base = resolve(taskRoot, moduleRoot, moduleName);
  return ['', '.js', '.mjs', '.cjs'].map((ext) => `${base}${ext}`).find((file) => statSync(file, { throwIfNoEntry: false })?.isFile() === true);
};

// What a missing module means on Lambda, in one line the developer can act on.
const missingModuleHint = (message: string, runtime: string): string => {
  const name = /Cannot find (?:module|package) '((?:@[^/']+\/)?[^/']+)/.exec(message)?.[1];
  if (name === 'aws-sdk') {
    const major = runtimeMajor(`AWS_Lambda_${runtime}`);
    // nodejs16.x and older did ship the SDK v2; they are long deprecated (no new functions), and
    // the local gateway has no copy of it.
    if (major !== undefined && major < 18) {
      return (
        `\n  ${runtime} shipped aws-sdk (v2) on Lambda, but that runtime is deprecated and the local gateway has no copy of the v2 SDK. ` +
        "Add aws-sdk to the function's package.json dependencies, or move to nodejs22.x or later with SDK v3 (@aws-sdk/*)."
      );
    }
    return (
      `\n  ${runtime} has no aws-sdk (v2): Lambda's Node runtimes from nodejs18.x include only the AWS SDK v3 (@aws-sdk/*). ` +
      "Add aws-sdk to the function's package.json dependencies, or move to SDK v3."
    );
  }
  if (name?.startsWith('@aws-sdk/')) {
    return `\n  ${runtime} provides ${name} on Lambda, but the local gateway has no copy of it: install it in your project (npm i -D ${name}).`;
  }
  return '';
};

/** Loads the handler as Lambda's Node runtime does. Throws LambdaRuntimeError (Lambda's error types). */
export const loadLambdaHandler = async (taskRoot: string, spec: string, runtime: string): Promise<Handler> => {
  const { moduleRoot, moduleName, handlerName } = parseHandler(spec);
  const file = handlerFile(taskRoot, spec);
  let mod: unknown;
  try {
    if (file !== undefined) {
      mod = await import(pathToFileURL(file).href);
    } else {
      // Neither a file nor one with the runtime's extensions: Node's require resolution from the
      // task root (a folder with an index.js, a package name), as the runtime falls back to.
      const require = createRequire(join(taskRoot, 'index.js'));
      mod = require(require.resolve(moduleName, { paths: [taskRoot, join(taskRoot, moduleRoot)] }));
    }
  } catch (error) {
    const e = error as Error & { code?: string };
    if (e instanceof SyntaxError) throw new LambdaRuntimeError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') {
      throw new LambdaRuntimeError('Runtime.ImportModuleError', `Error: ${e.message.split('\n')[0]}${missingModuleHint(e.message, runtime)}`);
    }
    throw error;
  }
  const find = (root: unknown): unknown =>
    handlerName
      .split('.')
      .reduce<unknown>(
        (nested, key) =>
          nested !== null && (typeof nested === 'object' || typeof nested === 'function') ? (nested as Record<string, unknown>)[key] : undefined,
        root,
      );
  let handler = find(mod);
  if (handler === undefined && mod !== null && typeof mod === 'object' && 'default' in mod) handler = find((mod as { default: unknown }).default);
  if (handler === undefined) throw new LambdaRuntimeError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  if (typeof handler !== 'function') throw new LambdaRuntimeError('Runtime.HandlerNotFound', `${spec} is not a function`);
  const major = runtimeMajor(`AWS_Lambda_${runtime}`);
  if (handler.length >= 3 && (major === undefined || major >= 24)) {
    throw new LambdaRuntimeError('Runtime.CallbackHandlerDeprecated', callbackRemovedMessage);
  }
  return handler as Handler;
};

export interface CallbackContext {
  callbackWaitsForEmptyEventLoop: boolean;
  done?: (error?: unknown, result?: unknown) => void;
  succeed?: (result?: unknown) => void;
  fail?: (error?: unknown) => void;
}

/** What keeps the event loop alive now (ref'd timers, sockets, pending fs calls, …), by type. */
export const activeResources = (): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
};

/**
 * Resolves once nothing beyond `baseline` (the worker's own IPC channel and stdio) keeps the event
 * loop alive: what Lambda's callback runtimes wait for before they answer, while
 * callbackWaitsForEmptyEventLoop is true. A handler that leaves a ref'd timer or socket open waits
 * until its timeout there, and here.
 */
export const eventLoopDrained = async (baseline: Map<string, number>): Promise<void> => {
  // Two clean looks in a row, a timer's turn apart. Immediates are not counted (Node still counts
  // the one this poll just ran while its turn lasts), so one the handler queued beside the poll's
  // runs in between; whatever it starts in turn is then counted by the second look.
  for (let clean = 0; clean < 2; ) {
    await new Promise((resolve) => setTimeout(resolve, clean === 0 ? 2 : 1));
    // Measured from a check-phase callback: the poll's own timer has fired and is not counted.
    await new Promise((resolve) => setImmediate(resolve));
    const now = activeResources();
    clean = [...now].every(([type, count]) => type === 'Immediate' || count <= (baseline.get(type) ?? 0)) ? clean + 1 : 0;
  }
};

/**
 * One invocation as the runtime makes it: the handler's promise, or (before nodejs24.x) the first
 * of its callback, context.done/succeed/fail, or its returned promise. A callback's result goes back
 * once the event loop is empty (`baseline`: what was alive before the handler module loaded),
 * unless the handler set context.callbackWaitsForEmptyEventLoop to false; a returned promise's at
 * once. A handler that returns no promise and never calls back settles with null once the event
 * loop is empty, as Lambda's does.
 */
export const callHandler = (
  handler: Handler,
  event: unknown,
  context: CallbackContext,
  runtime: string,
  baseline: Map<string, number> = activeResources(),
): Promise<unknown> => {
  const major = runtimeMajor(`AWS_Lambda_${runtime}`);
  const callbacks = major !== undefined && major < 24;
  if (!callbacks) return Promise.resolve().then(() => handler(event, context));
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    // One poll of the event loop per invocation, shared: two at once would each count the other's
    // timer as work left, and could keep each other waiting past the function's timeout (a handler
    // without a callback parameter that calls context.succeed started both).
    let draining: Promise<void> | undefined;
    const drained = () => (draining ??= eventLoopDrained(baseline));
    const settle = (error: unknown, result: unknown, waitForEventLoop: boolean) => {
      if (settled) return;
      settled = true;
      const answer = () => (error !== undefined && error !== null ? reject(error) : resolvePromise(result));
      if (waitForEventLoop && context.callbackWaitsForEmptyEventLoop !== false) void drained().then(answer);
      else answer();
    };
    const callback = (error?: unknown, result?: unknown) => settle(error, result, true);
    Object.assign(context, { done: callback, succeed: (result?: unknown) => callback(null, result), fail: (error?: unknown) => callback(error ?? 'handled') });
    let returned: unknown;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      settle(error, undefined, false);
      return;
    }
    if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<unknown>).then === 'function') {
      // An async handler's promise answers at once, whatever the event loop holds.
      (returned as Promise<unknown>).then(
        (value) => settle(null, value, false),
        (error) => settle(error ?? new Error('the handler rejected with nothing'), undefined, false),
      );
    } else if (handler.length < 3) {
      // No callback to wait for: the runtime returns null once the event loop has nothing left.
      void drained().then(() => settle(null, null, false));
    }
  });
};
