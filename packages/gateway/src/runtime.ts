// The worker side of a local Lambda instance: one child process per instance, forked by the
// function pool. It imports the bundle once (init phase), then runs one invocation at a time on
// request over IPC. When the handler's promise settles it sends the result and stops itself with
// SIGSTOP, which is what Lambda's freeze does: timers, sockets and un-awaited promises make no
// progress until the pool sends SIGCONT for the next invocation, if there is one.
//
// Every outgoing HTTP request is stamped with the id of the invocation whose async context started
// it. The gateway compares that id with the invocations that have already returned, and reports a
// LATE SEND for a management-API request that outlived its invocation.
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { activeResources, callHandler, loadLambdaHandler, runtimeMajor, type CallbackContext, type Handler } from './handler-loader.ts';
import { registerRuntimeSdk } from './runtime-sdk.ts';
import { installEgress, type EgressConfig } from './egress.ts';
import { egressVariable, invocationHeader, type FromWorker, type LambdaError, type ToWorker } from './worker-protocol.ts';

const invocation = new AsyncLocalStorage<string>();

// node:http (the AWS SDK's NodeHttpHandler), undici (fetch) and the outbox's own keep-alive client
// (the signed transport) all announce new requests on a diagnostics channel before any header is
// written, in the caller's async context.
const stampRequest = (message: unknown) => {
  const { request } = message as { request: ClientRequest };
  const id = invocation.getStore();
  if (id !== undefined && !request.headersSent && request.getHeader(invocationHeader) === undefined) request.setHeader(invocationHeader, id);
};
diagnosticsChannel.subscribe('http.client.request.created', stampRequest);

// Node 20 (nodejs20.x functions) has no `created` channel, and its `start` comes after the
// headers are written: there, http.request and https.request themselves stamp what they return
// (and get, which calls the module's own request), and ES modules' named imports are synced.
const stampOnNode20 = (): void => {
  if (Number(process.versions.node.split('.')[0]) >= 22) return;
  for (const mod of [http, https] as Array<typeof http>) {
    const request = mod.request;
    const stamped = ((...args: Parameters<typeof http.request>) => {
      const req = request(...args);
      stampRequest({ request: req });
      return req;
    }) as typeof http.request;
    mod.request = stamped;
    mod.get = ((...args: Parameters<typeof http.get>) => stamped(...args).end()) as typeof http.get;
  }
  syncBuiltinESMExports();
};
stampOnNode20();
diagnosticsChannel.subscribe('undici:request:create', (message) => {
  const { request } = message as { request: { addHeader(name: string, value: string): void } };
  const id = invocation.getStore();
  if (id !== undefined) request.addHeader(invocationHeader, id);
});

// The library's own client publishes on a channel of its own (by name: this worker imports nothing
// of the library, which an app may not even use).
diagnosticsChannel.subscribe('ws-outbox:http1.request.created', (message) => {
  const { request } = message as { request: { headers: Record<string, string> } };
  const id = invocation.getStore();
  if (id !== undefined) request.headers[invocationHeader] = id;
});

// This file (or its bundle for an older Node) and the handler loader beside it.
const workerFiles = [fileURLToPath(import.meta.url), join(dirname(fileURLToPath(import.meta.url)), 'handler-loader.')];
const isWorkerFrame = (line: string): boolean => workerFiles.some((file) => line.includes(file));

// Lambda's shapes for what a handler throws, rejects with or calls back with: an Error by its
// name, a string as errorType "string" (an authorizer's callback('Unauthorized')).
const toLambdaError = (error: unknown, fallbackType = 'Error'): LambdaError => {
  if (error instanceof Error) {
    // The worker's own frames (this file, the loader) say nothing about the function: left out.
    const trace = error.stack?.split('\n').filter((line) => !isWorkerFrame(line));
    return { errorType: error.name || fallbackType, errorMessage: error.message, trace };
  }
  if (typeof error === 'string') return { errorType: 'string', errorMessage: error };
  return { errorType: fallbackType, errorMessage: JSON.stringify(error) ?? String(error) };
};

const send = (message: FromWorker): void => {
  process.send!(message);
};

// Small messages are written to the IPC pipe synchronously, so stopping right after the write
// leaves no window in which left-over work could run. A large one may be queued: stop only once it
// has been flushed, or the gateway would wait for a result that sits in a frozen process.
const sendAndFreeze = (message: FromWorker): void => {
  const size = JSON.stringify(message).length;
  const freeze = () => process.kill(process.pid, 'SIGSTOP');
  if (size < 16 * 1024) {
    process.send!(message);
    freeze();
  } else {
    process.send!(message, undefined, {}, freeze);
  }
};

const contextFor = (message: ToWorker, runtime: string) => {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    awsRequestId: message.requestId,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    getRemainingTimeInMillis: () => Math.max(0, message.deadlineMs - Date.now()),
    // Runtimes before nodejs24.x have it (true by default: a callback's result goes back once the
    // event loop is empty, handler-loader.ts); nodejs24.x removed it with callbacks.
    ...((runtimeMajor(`AWS_Lambda_${runtime}`) ?? 24) < 24 ? { callbackWaitsForEmptyEventLoop: true } : {}),
  };
};

// The gateway's settings for this worker's network, read once and taken out of the environment
// the handler sees (as is NODE_EXTRA_CA_CERTS, which Node read at start-up): on Lambda neither exists.
const routeEgress = (): void => {
  const raw = process.env[egressVariable];
  delete process.env[egressVariable];
  delete process.env.NODE_EXTRA_CA_CERTS;
  if (raw === undefined) return;
  installEgress(JSON.parse(raw) as EgressConfig, (host, port) => {
    process.send?.({ type: 'egress-refused', host, port, requestId: invocation.getStore() } satisfies FromWorker);
  });
};

const main = async (): Promise<void> => {
  if (!process.send) throw new Error('runtime.ts runs as a worker forked by the local gateway');
  routeEgress();
  // The gateway's end of the IPC channel closed: it is gone. A running instance ends now rather
  // than finish its invocation against nothing and then freeze for good. A frozen one cannot see
  // this; the gateway's watchdog kills those (worker-guard.ts).
  process.on('disconnect', () => process.exit(1));
  registerRuntimeSdk();
  const started = performance.now();
  // The Runtime as the template names it (AWS_EXECUTION_ENV is AWS_Lambda_<Runtime>): its rules
  // for callbacks, whichever Node this worker runs on.
  const runtime = (process.env.AWS_EXECUTION_ENV ?? 'AWS_Lambda_nodejs24.x').replace(/^AWS_Lambda_/, '');
  let handler: Handler | undefined;
  // Registered before the handler loads: a 'message' listener refs the IPC channel, which is then
  // part of what the worker itself keeps alive (invocations come only after 'ready').
  process.on('message', async (message: ToWorker) => {
    if (message?.type !== 'invoke' || handler === undefined) return;
    send({ type: 'started', requestId: message.requestId });
    let reply: FromWorker;
    try {
      const value = await invocation.run(message.requestId, () =>
        callHandler(handler!, message.event, contextFor(message, runtime) as CallbackContext, runtime, baseline),
      );
      reply = { type: 'result', requestId: message.requestId, result: JSON.stringify(value ?? null) };
    } catch (error) {
      reply = { type: 'error', requestId: message.requestId, error: toLambdaError(error) };
    }
    sendAndFreeze(reply);
  });
  // What the worker itself keeps alive (its IPC channel; stdio, created now so that a handler's
  // first log line adds nothing): a callback's answer waits for the event loop to return to this.
  void process.stdout;
  void process.stderr;
  const baseline = activeResources();
  try {
    handler = await loadLambdaHandler(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), process.env._HANDLER ?? 'index.handler', runtime);
  } catch (error) {
    send({ type: 'init-error', error: toLambdaError(error, 'Runtime.ImportModuleError') });
    process.exit(1);
  }
  send({ type: 'ready', initMs: Math.round(performance.now() - started) });
};

await main();
