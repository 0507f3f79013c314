// The gateway's Lambda API, as the functions see it: `lambda.<region>.amazonaws.com`, unmodified
// (the egress hook sends it here, over the TLS front), and a loopback port for outside callers.
// It serves Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`) on the template's own
// functions: the request must be SigV4-signed (as any AWS API), the caller's template policies
// must allow `lambda:InvokeFunction` on the target (the same IAM check as the DynamoDB and SQS
// fronts: outside callers on the plain port are not checked), then the target runs in its own
// pool, like an invocation of a route, and is in the ledger and the log the same way.
//
// A function answers to its local name (the logical id, which `!Ref` gives locally), to its
// template `FunctionName` when that resolves, and to the ARNs of both; IAM allows the call when
// a statement allows any of those ARNs, since in AWS they are one function.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppModel } from './app-model.ts';
import type { FunctionPool, InvokeOutcome } from './function-pool.ts';
import { stoppedErrorType } from './function-pool.ts';
import type { IamCheck } from './iam/check.ts';
import { accessKeyOf, type Identities } from './iam/identities.ts';
import type { InvocationLedger } from './invocations.ts';
import { createAsyncInvoker, type AsyncInvokerOptions } from './lambda-async.ts';
import {
  apiError,
  errorAnswer,
  eventOf,
  functionArn,
  functionErrorBody,
  invocationTypeOf,
  invokePathOf,
  parseFunctionName,
  payloadLimits,
  resolveFunction,
  tooLarge,
  type InvocationType,
  type LambdaApiError,
} from './lambda-api.ts';
import type { Logger } from './log.ts';
import { readBody, unsignedReason } from './management-api.ts';
import { resolveIntrinsics } from './template.ts';
import type { InvocationReport } from './websocket-api.ts';
import { invocationHeader } from './worker-protocol.ts';

/** What the front invokes: the pools, and the model their names come from (set once Lambda has started, again at each reload). */
export interface InvokeTargets {
  pools: ReadonlyMap<string, FunctionPool>;
  model: AppModel;
}

export interface LambdaFrontOptions {
  region: string;
  accountId: string;
  iam: IamCheck;
  identities: Identities;
  ledger: InvocationLedger;
  log: Logger;
  /** undefined until the functions are ready (the TLS front, which serves this API, starts before them). */
  targets: () => InvokeTargets | undefined;
  onInvocation?: (report: InvocationReport) => void;
  /** Event invocations' retries (lambda-async.ts); Lambda's by default. */
  async?: Partial<AsyncInvokerOptions>;
}

// Per model (a reload makes a new one): the names are read once, not at every Invoke.
const namesByModel = new WeakMap<AppModel, Map<string, string>>();

/** Every name a function answers to → its logical id: the logical id, and its template FunctionName when that resolves locally. */
export const functionNamesOf = (model: AppModel): Map<string, string> => {
  const known = namesByModel.get(model);
  if (known !== undefined) return known;
  const names = new Map<string, string>();
  namesByModel.set(model, names);
  for (const fn of model.functions.values()) {
    names.set(fn.logicalId, fn.logicalId);
    names.set(fn.functionName, fn.logicalId);
    const written = model.template.Resources[fn.logicalId]?.Properties?.FunctionName;
    if (written === undefined) continue;
    try {
      const resolved = resolveIntrinsics(written, model.refs, `${fn.logicalId}.FunctionName`);
      if (typeof resolved === 'string' && !names.has(resolved)) names.set(resolved, fn.logicalId);
    } catch {
      // A name built from what is not known locally (AWS::StackName, say): the logical id still answers.
    }
  }
  return names;
};

const answer = (res: ServerResponse, status: number, headers: Record<string, string>, body = ''): void => {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
};

const fail = (res: ServerResponse, error: LambdaApiError, requestId: string): void => {
  const { headers, body } = errorAnswer(error, requestId);
  res.writeHead(error.status, headers).end(body);
};

export const createLambdaFront = (opts: LambdaFrontOptions) => {
  const { log, region, accountId } = opts;
  const asyncInvoker = createAsyncInvoker(opts.async);
  const here = { region, accountId };

  /** Who called, as the log names it: the function of its key or its invocation stamp, else an outside caller. */
  const callerOf = (req: IncomingMessage): string => {
    const identity = opts.identities.get(accessKeyOf(req.headers, req.url));
    const stamp = req.headers[invocationHeader];
    return identity?.functionName ?? (typeof stamp === 'string' ? opts.ledger.get(stamp)?.functionName : undefined) ?? 'outside';
  };

  const report = (pool: FunctionPool, type: InvocationType, route: string, outcome: InvokeOutcome, attempt = 1, willRetry = false): void => {
    const stopped = outcome.status === 'error' && outcome.error.errorType === stoppedErrorType;
    const what = outcome.status === 'ok' ? 'OK' : outcome.status === 'timeout' ? 'TIMEOUT' : stopped ? 'STOPPED' : 'ERROR';
    const cold = outcome.initMs !== undefined ? `, cold start ${outcome.initMs} ms` : '';
    const retry = attempt > 1 ? `, retry ${attempt - 1}` : '';
    const line = `${route} → ${pool.name} → ${what} (${outcome.durationMs.toFixed(0)} ms${cold}${retry})`;
    if (outcome.status === 'ok' || stopped) log.info(stopped ? `${line}: ended by the gateway's stop` : line);
    else {
      const why = outcome.status === 'error' ? `  ${outcome.error.errorType}: ${outcome.error.errorMessage}` : '  Task timed out';
      const next =
        type !== 'Event'
          ? ''
          : willRetry
            ? '\n  Lambda retries an asynchronous invocation: it runs again shortly.'
            : '\n  Its retries are spent: the event is dropped.';
      log.error(`${line}\n${why}${next}`);
    }
    opts.onInvocation?.({
      route,
      functionName: pool.name,
      connectionId: '',
      requestId: outcome.requestId,
      status: outcome.status,
      durationMs: outcome.durationMs,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const path = invokePathOf(req.url);
    if (req.method !== 'POST' || path === undefined) {
      req.resume();
      log.warn(
        `Lambda API: ${callerOf(req)} sent ${req.method} ${req.url}: only Invoke (POST /2015-03-31/functions/{FunctionName}/invocations) is served locally`,
      );
      return fail(
        res,
        apiError(404, 'UnknownOperationException', 'The local Lambda API serves Invoke only: POST /2015-03-31/functions/{FunctionName}/invocations'),
        requestId,
      );
    }
    const unsigned = unsignedReason(req);
    if (unsigned !== undefined) {
      req.resume();
      return fail(res, apiError(403, unsigned.type, unsigned.message), requestId);
    }
    const type = invocationTypeOf(req.headers['x-amz-invocation-type']);
    if (typeof type !== 'string') {
      req.resume();
      return fail(res, type, requestId);
    }
    const payload = await readBody(req, payloadLimits[type]);
    if (payload === 'too-large') return fail(res, tooLarge(type), requestId);

    // IAM first, as AWS authorizes before it looks the function up: a caller not allowed a name
    // hears AccessDenied whether or not the function exists.
    const ref = parseFunctionName(path.functionName);
    if ('status' in ref) return fail(res, ref, requestId);
    const targets = opts.targets();
    if (targets === undefined) return fail(res, apiError(503, 'ServiceException', 'The local gateway is still starting its functions: try again.'), requestId);
    const names = functionNamesOf(targets.model);
    const found = resolveFunction(path.functionName, path.qualifier, names, here);
    const arnRegion = ref.region ?? region;
    const arnAccount = ref.accountId ?? accountId;
    const aliases = 'status' in found ? [] : [...names].filter(([name, id]) => id === found.logicalId && name !== ref.name).map(([name]) => name);
    const arns = [ref.name, ...aliases].map((name) => functionArn(arnRegion, arnAccount, name));
    const verdict = opts.iam(req, 'lambda:InvokeFunction', arns, true);
    if (verdict.kind === 'denied') return fail(res, apiError(403, 'AccessDeniedException', verdict.message), requestId);
    if (verdict.kind === 'unsigned') {
      return fail(
        res,
        verdict.signed
          ? apiError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
          : apiError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'),
        requestId,
      );
    }
    if ('status' in found) return fail(res, found, requestId);
    const pool = targets.pools.get(found.logicalId);
    if (pool === undefined) return fail(res, apiError(404, 'ResourceNotFoundException', `Function not found: ${arns[0]}`), requestId);
    const parsed = eventOf(payload);
    if ('status' in parsed) return fail(res, parsed, requestId);
    const caller = callerOf(req);
    // The ledger's and the log's route: what started the invocation (`Invoke Event from ConnectFunction`).
    const route = `Invoke ${type} from ${caller}`;

    if (type === 'DryRun') return answer(res, 204, { 'x-amzn-RequestId': requestId });
    if (type === 'Event') {
      answer(res, 202, { 'x-amzn-RequestId': requestId });
      await asyncInvoker.run(
        () => pool.invoke(parsed.event, { route }),
        (outcome, attempt, willRetry) => report(pool, type, route, outcome, attempt, willRetry),
      );
      return;
    }
    // Every instance busy: Lambda throttles a synchronous call at its concurrency limit (the SDKs
    // retry a 429 with backoff). Waiting instead would deadlock a function that invokes itself, or
    // a chain that comes back to it, while it holds the last instance.
    if (pool.saturated) {
      log.warn(`${route} → ${pool.name}: all ${pool.options.maxInstances} instances are busy: throttled (429), as Lambda throttles at its concurrency limit`);
      return fail(res, apiError(429, 'TooManyRequestsException', 'Rate Exceeded.', 'ReservedFunctionConcurrentInvocationLimitExceeded'), requestId);
    }
    const outcome = await pool.invoke(parsed.event, { route });
    report(pool, type, route, outcome);
    const headers = { 'content-type': 'application/json', 'x-amzn-RequestId': outcome.requestId, 'X-Amz-Executed-Version': '$LATEST' };
    if (outcome.status === 'ok') return answer(res, 200, headers, JSON.stringify(outcome.result ?? null));
    if (outcome.status === 'error' && outcome.error.errorType === stoppedErrorType) {
      return fail(res, apiError(503, 'ServiceException', 'The local gateway stopped during this invocation.'), requestId);
    }
    answer(res, 200, { ...headers, 'X-Amz-Function-Error': 'Unhandled' }, JSON.stringify(functionErrorBody(outcome, pool.options.fn)));
  };

  return { handle, close: () => asyncInvoker.stop() };
};
