// API Gateway's Lambda REQUEST authorizer on $connect, emulated. Before $connect runs:
//   1. every identity source must be present and non-empty, or the upgrade gets 401 and the
//      authorizer function is not invoked at all;
//   2. the authorizer function runs as a Lambda (its own pool: frozen between invocations, its
//      Timeout enforced) with a REQUEST event: methodArn, headers, query string, requestContext;
//   3. its result decides: a policy that allows execute-api:Invoke on the methodArn → the
//      connection goes on to $connect; a Deny (explicit, or no matching Allow) → 403; a throw of
//      "Unauthorized" → 401; any other throw, a timeout, or a malformed or oversized result
//      (over 8 KB, or a context value that is not a string, number or boolean) → 500;
//   4. what it returned reaches every route of the connection as requestContext.authorizer:
//      principalId beside the context, each value stringified, as API Gateway passes them on.
import type { FunctionPool } from './function-pool.ts';
import type { InvocationReport } from './websocket-api.ts';
import type { Logger } from './log.ts';

export interface AuthorizerOptions {
  pool: FunctionPool;
  identitySources: string[];
  name: string;
  log: Logger;
  /** For the methodArn: arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect. */
  region: string;
  accountId: string;
  stageVariables?: Record<string, string>;
  /** Told about every authorizer invocation (the gateway's 'invocation' event, route `$connect authorizer`). */
  onInvocation?: (report: InvocationReport) => void;
}

export type AuthorizerDecision = { status: 200; authorizer: Record<string, unknown> } | { status: 401 | 403 | 500; message: string; why: string };

/** The authorizer result cap (API Gateway's WebSocket quota), on the result's JSON. */
export const maxAuthorizerResultBytes = 8 * 1024;

interface ConnectEventLike {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
  requestContext: Record<string, unknown> & { apiId: string; stage: string };
}

const unauthorized = (why: string): AuthorizerDecision => ({ status: 401, message: 'Unauthorized', why });
const forbidden = (why: string): AuthorizerDecision => ({ status: 403, message: 'Forbidden', why });
const misconfigured = (why: string): AuthorizerDecision => ({ status: 500, message: 'Internal server error', why });

const pathValue = (root: unknown, path: string[]): unknown =>
  path.reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), root);

/** The value of one identity source, or undefined when it is absent. Header names are case-insensitive. */
const identityValue = (source: string, event: ConnectEventLike, stageVariables: Record<string, string>): unknown => {
  const [first, second, third, ...rest] = source.split('.');
  if (first === 'route' && third === 'header') {
    const name = rest.join('.').toLowerCase();
    return Object.entries(event.headers).find(([k]) => k.toLowerCase() === name)?.[1];
  }
  if (first === 'route' && third === 'querystring') return event.queryStringParameters?.[rest.join('.')];
  if (first === 'stageVariables') return stageVariables[[second, third, ...rest].filter(Boolean).join('.')];
  if (first === 'context') return pathValue(event.requestContext, [second!, third!, ...rest].filter(Boolean));
  return undefined;
};

// IAM-style matching of a policy's Resource against the methodArn: `*` any run, `?` one character.
const wildcard = (pattern: string, value: string): boolean =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  ).test(value);

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

const invokes = (action: unknown): boolean => asList(action).some((a) => typeof a === 'string' && wildcard(a.toLowerCase(), 'execute-api:invoke'));

/** 'allow', 'deny' (explicit) or 'none' (no statement matches: an implicit deny). */
export const evaluatePolicy = (policy: unknown, methodArn: string): 'allow' | 'deny' | 'none' => {
  let allowed = false;
  for (const statement of asList((policy as { Statement?: unknown } | undefined)?.Statement)) {
    const s = statement as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    if (!invokes(s.Action) || !asList(s.Resource).some((r) => typeof r === 'string' && wildcard(r, methodArn))) continue;
    if (s.Effect === 'Deny') return 'deny';
    if (s.Effect === 'Allow') allowed = true;
  }
  return allowed ? 'allow' : 'none';
};

/** Checks an authorizer's result and turns it into what routes see, or says why API Gateway would refuse it. */
export const decide = (result: unknown, methodArn: string, integrationLatency: number): AuthorizerDecision => {
  if (result === null || typeof result !== 'object')
    return misconfigured(`the authorizer returned ${JSON.stringify(result)}, not { principalId, policyDocument, context? }`);
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes > maxAuthorizerResultBytes)
    return misconfigured(`the authorizer's result is ${bytes} bytes, over API Gateway's ${maxAuthorizerResultBytes}-byte limit`);
  const { principalId, policyDocument, context } = result as { principalId?: unknown; policyDocument?: unknown; context?: unknown };
  if ((typeof principalId !== 'string' && typeof principalId !== 'number') || principalId === '')
    return misconfigured('the authorizer returned no principalId');
  if (policyDocument === null || typeof policyDocument !== 'object') return misconfigured('the authorizer returned no policyDocument');
  if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context)))
    return misconfigured("the authorizer's context must be an object");
  const seen: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((context ?? {}) as Record<string, unknown>)) {
    if (value === null || !['string', 'number', 'boolean'].includes(typeof value)) {
      return misconfigured(
        `the authorizer's context.${key} is ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}: only strings, numbers and booleans are allowed`,
      );
    }
    seen[key] = String(value);
  }
  const effect = evaluatePolicy(policyDocument, methodArn);
  if (effect === 'deny') return forbidden('the policy denies execute-api:Invoke on this connection');
  if (effect === 'none') return forbidden('the policy does not allow execute-api:Invoke on this connection');
  return { status: 200, authorizer: { ...seen, principalId: String(principalId), integrationLatency } };
};

export const createAuthorizer = (options: AuthorizerOptions) => {
  const { pool, identitySources, log, name } = options;
  const stageVariables = options.stageVariables ?? {};

  return async (event: ConnectEventLike): Promise<AuthorizerDecision> => {
    const { apiId, stage } = event.requestContext;
    const connectionId = String(event.requestContext.connectionId);
    const missing = identitySources.filter((source) => {
      const value = identityValue(source, event, stageVariables);
      return value === undefined || value === null || value === '';
    });
    if (missing.length > 0) {
      const why = `identity source ${missing.join(', ')} is missing or empty; the authorizer was not invoked`;
      log.warn(`$connect    ${name} ${connectionId} → 401 (${why})`);
      return unauthorized(why);
    }
    const methodArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${apiId}/${stage}/$connect`;
    const request = {
      type: 'REQUEST',
      methodArn,
      headers: event.headers,
      multiValueHeaders: event.multiValueHeaders,
      ...(event.queryStringParameters
        ? { queryStringParameters: event.queryStringParameters, multiValueQueryStringParameters: event.multiValueQueryStringParameters }
        : {}),
      stageVariables,
      requestContext: event.requestContext,
    };
    const outcome = await pool.invoke(request, { route: '$connect authorizer' });
    const cold = outcome.initMs !== undefined ? `, cold start ${outcome.initMs} ms` : '';
    let decision: AuthorizerDecision;
    if (outcome.status === 'timeout') decision = misconfigured('the authorizer timed out');
    else if (outcome.status === 'error') {
      decision =
        outcome.error.errorMessage === 'Unauthorized'
          ? unauthorized('the authorizer threw "Unauthorized"')
          : misconfigured(
              `the authorizer failed: ${outcome.error.errorType}: ${outcome.error.errorMessage} (only a throw of exactly "Unauthorized" means 401)`,
            );
    } else decision = decide(outcome.result, methodArn, Math.round(outcome.durationMs));
    const verdict = 'why' in decision ? `${decision.status} (${decision.why})` : 'Allow';
    const line = `$connect    ${name} ${pool.name} ${connectionId} → ${verdict} (${outcome.durationMs.toFixed(0)} ms${cold})`;
    if (decision.status === 500) log.error(line);
    else log.info(line);
    options.onInvocation?.({
      route: '$connect authorizer',
      functionName: pool.name,
      connectionId,
      requestId: outcome.requestId,
      status: outcome.status,
      statusCode: decision.status,
      durationMs: outcome.durationMs,
    });
    return decision;
  };
};
