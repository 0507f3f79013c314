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
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ClientRequest } from 'node:http';
import { installEgress, type EgressConfig } from './egress.ts';
import { egressVariable, invocationHeader, type FromWorker, type LambdaError, type ToWorker } from './worker-protocol.ts';

const invocation = new AsyncLocalStorage<string>();

// node:http (the AWS SDK's NodeHttpHandler), undici (fetch) and the outbox's own keep-alive client
// (the signed transport) all announce new requests on a diagnostics channel before any header is
// written, in the caller's async context.
diagnosticsChannel.subscribe('http.client.request.created', (message) => {
  const { request } = message as { request: ClientRequest };
  const id = invocation.getStore();
  if (id !== undefined && !request.headersSent) request.setHeader(invocationHeader, id);
});
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

const toLambdaError = (error: unknown, fallbackType = 'Error'): LambdaError => {
  if (error instanceof Error) {
    return { errorType: error.name || fallbackType, errorMessage: error.message, trace: error.stack?.split('\n') };
  }
  return { errorType: fallbackType, errorMessage: String(error) };
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

const contextFor = (message: ToWorker) => {
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
  };
};

const loadHandler = async (): Promise<(event: unknown, context: unknown) => unknown> => {
  const spec = process.env._HANDLER ?? 'index.handler';
  const dot = spec.lastIndexOf('.');
  const [moduleName, exportName] = [spec.slice(0, dot), spec.slice(dot + 1)];
  const file = join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), `${moduleName}.mjs`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    throw Object.assign(new Error(`Cannot load ${file}: ${(error as Error).message}`), { name: 'Runtime.ImportModuleError' });
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${moduleName}.${exportName} is not a function (exports: ${Object.keys(mod).join(', ') || 'none'})`), { name: 'Runtime.HandlerNotFound' });
  }
  return fn as (event: unknown, context: unknown) => unknown;
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
  const started = performance.now();
  let handler: (event: unknown, context: unknown) => unknown;
  try {
    handler = await loadHandler();
  } catch (error) {
    send({ type: 'init-error', error: toLambdaError(error, 'Runtime.ImportModuleError') });
    process.exit(1);
  }
  process.on('message', async (message: ToWorker) => {
    if (message?.type !== 'invoke') return;
    send({ type: 'started', requestId: message.requestId });
    let reply: FromWorker;
    try {
      const value = await invocation.run(message.requestId, () => handler(message.event, contextFor(message)));
      reply = { type: 'result', requestId: message.requestId, result: JSON.stringify(value ?? null) };
    } catch (error) {
      reply = { type: 'error', requestId: message.requestId, error: toLambdaError(error) };
    }
    sendAndFreeze(reply);
  });
  send({ type: 'ready', initMs: Math.round(performance.now() - started) });
};

await main();
