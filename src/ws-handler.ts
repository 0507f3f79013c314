import middy, { type MiddlewareObj, type Request } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { cleanupOutbox, outbox, type OutboxOptions } from '../middleware/outbox.ts';
import { wsJsonBodyParser } from '../middleware/ws-json-body-parser.ts';
import type { AuthorizerContext, WsContext, WsEvent, WsResult } from './types.ts';
import { logLevelAllows, logTo, type ReportLog } from './outbox/report.ts';
import { claimClientSend } from './sessions/acks.ts';

export interface WsHandlerOptions extends OutboxOptions {
  /** Where handler errors are logged (http-error-handler's logger); `false` for none. */
  errorLogger?: ((error: unknown) => void) | false;
  /** Largest JSON body accepted, in bytes. */
  maxBodyBytes?: number;
}

/** Middy's third handler argument: `signal` aborts shortly before the Lambda timeout. */
export interface WsHandlerExtras {
  signal: AbortSignal;
}

export type WsHandlerFn<TBody, TAuthorizer extends AuthorizerContext = AuthorizerContext> = (
  event: WsEvent<TBody, TAuthorizer>,
  context: WsContext,
  extras: WsHandlerExtras,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler may return nothing, and an async function that returns nothing is a Promise<void>
) => Promise<WsResult | void> | WsResult | void;

/**
 * Middy's request as a middleware of a wsHandler sees it: `request.context.outbox` is there, plus
 * `TExtra`, what other middlewares' types add to the context.
 */
export type WsRequest<TExtra = unknown> = Request<WsEvent, WsResult | undefined, Error, WsContext & TExtra>;

/** A middleware function for `.before()`, `.after()` and `.onError()`; a value it returns ends the chain early. */
export type WsMiddlewareFn<TExtra = unknown> = (request: WsRequest<TExtra>) => unknown;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMiddleware = MiddlewareObj<any, any, any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ContextOf<M> = M extends MiddlewareObj<any, any, any, infer C, any> ? C : M extends Array<MiddlewareObj<any, any, any, infer C, any>> ? C : unknown;

/**
 * The Lambda handler wsHandler returns: a Middy handler, so more middlewares can be `.use()`d.
 * Lambda calls it with a plain Context; its middlewares see the WsContext the outbox adds (and
 * whatever their own types add), through any number of `.use()`s.
 */
export interface WsLambdaHandler<TExtra = unknown> {
  (event: APIGatewayProxyWebsocketEventV2, context: Context): Promise<WsResult | undefined>;
  use<M extends AnyMiddleware | AnyMiddleware[]>(middlewares: M): WsLambdaHandler<TExtra & ContextOf<M>>;
  before(middleware: WsMiddlewareFn<TExtra>): WsLambdaHandler<TExtra>;
  after(middleware: WsMiddlewareFn<TExtra>): WsLambdaHandler<TExtra>;
  onError(middleware: WsMiddlewareFn<TExtra>): WsLambdaHandler<TExtra>;
}

/**
 * A Middy handler with everything wired: JSON body parsing, the outbox, and error handling.
 * Middy runs onError middlewares last-registered first, so http-error-handler shapes the
 * response before the outbox turns it into the caller's `{"type":"error"}` reply. Middy's
 * `requestEnd` hook settles the outbox when another middleware's early return skipped it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const wsHandler = <TBody = Record<string, any>, TAuthorizer extends AuthorizerContext = AuthorizerContext>(
  fn: WsHandlerFn<TBody, TAuthorizer>,
  options: WsHandlerOptions = {},
): WsLambdaHandler => {
  const { errorLogger, maxBodyBytes, ...outboxOptions } = options;
  // The middlewares change the event and context types (body parsed, outbox added), which Middy's
  // generics cannot follow through `.use()`; the public type is restored on return.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const handler = middy<any, any, Error, any>(
    async (event: WsEvent<TBody, TAuthorizer>, context: WsContext, extras: WsHandlerExtras) => {
      // Here, after every before-middleware (a rate limit refuses first, without a claim's write):
      // a resend of a client send that already ran is answered, not run again (sessions/acks.ts).
      if (await claimClientSend(event as WsEvent, context, claimWaitMs(context))) return { statusCode: 200 };
      return (await fn(event, context, extras)) ?? { statusCode: 200 };
    },
    { requestEnd: cleanupOutbox },
  )
    // The outbox goes first so that a parse error still has an outbox to send its error reply.
    .use(outbox(outboxOptions))
    .use(wsJsonBodyParser({ maxBytes: maxBodyBytes }))
    .use(httpErrorHandler({ logger: errorLogger ?? errorLoggerFor(options.logger), fallbackMessage: 'Internal server error' }));
  return handler as unknown as WsLambdaHandler;
};

/**
 * The claim's budget: the store's answer, and a resend's wait for its first copy's invocation to
 * settle. 2 s, or a quarter of what is left, so the route and the flush keep the rest.
 */
const claimWaitMs = (context: WsContext): number => Math.min(2000, (context.getRemainingTimeInMillis?.() ?? 8000) / 4);

// 4xx are the caller's mistakes, not ours: log them quietly, and 5xx with the stack. A structured
// logger given as `logger` (Powertools' Logger) gets them too; otherwise a JSON line on stderr.
const errorLoggerFor =
  (logger: ReportLog | false | undefined) =>
  (error: unknown): void => {
    const e = error as { statusCode?: number; message?: string; stack?: string };
    const level = (e?.statusCode ?? 500) < 500 ? 'info' : 'error';
    if (!logLevelAllows(level)) return; // OUTBOX_LOG_LEVEL=warn keeps 5xx only, as for reports
    const fields = { statusCode: e?.statusCode ?? 500, error: e?.message, stack: level === 'error' ? e?.stack : undefined };
    logTo(typeof logger === 'object' ? logger : (line) => console.error(line), level, 'ws-outbox handler error', fields);
  };
