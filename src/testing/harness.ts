import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { TransportError, type Transport } from '../management/transport.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import type { DeliveryReport, WsResult } from '../types.ts';
import { makeWsEvent, newConnectionId, type WsEventSpec } from './events.ts';
import { withTestingOverrides } from './overrides.ts';

/** A message as a connection would receive it. */
export interface Delivered {
  connectionId: string;
  /** The frame as text. */
  data: string;
  /** The frame parsed as JSON, when it is JSON. */
  json: unknown;
}

/**
 * One invocation's outcome. Every field is set, so strict TypeScript needs no `!`: a handler that
 * resolves to nothing answers `{ statusCode: 200 }` (as API Gateway treats it), and `invoke()`
 * rejects when the handler rejects (a wsHandler turns errors into responses, so that is a bug)
 * or when no delivery report came (the handler has no outbox middleware).
 */
export interface InvokeResult {
  response: WsResult;
  /** What this invocation delivered, in order. */
  sent: Delivered[];
  /** Connections this invocation closed with outbox.disconnect(). */
  disconnected: string[];
  report: DeliveryReport;
}

export interface HarnessOptions {
  store?: Store;
  /** Lambda timeout the context reports, in ms. */
  timeoutMs?: number;
}

/** Any Lambda handler: a wsHandler, or a Middy stack with outbox(). */
export type LambdaHandler = (event: never, context: never) => Promise<unknown>;

const decoder = new TextDecoder();
const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Runs wsHandler functions as API Gateway and Lambda would, with no AWS and no mocks: an in-memory
 * store, and an in-memory @connections API that delivers to the connections the harness has open
 * and answers 410 Gone for the rest, just like the real one.
 */
export class WsTestHarness {
  readonly store: Store;
  /** Connections that can receive. Posting to any other id gets 410 Gone. */
  readonly open = new Set<string>();
  /** Everything each connection has received, across invocations. */
  readonly inbox = new Map<string, unknown[]>();
  readonly #timeoutMs: number;
  readonly #dropped = new Set<string>();
  // What each connection's $connect authorizer returned: API Gateway repeats it on every route.
  readonly #authorizers = new Map<string, NonNullable<WsEventSpec['authorizer']>>();
  #current: { sent: Delivered[]; disconnected: string[] } | undefined;

  constructor(options: HarnessOptions = {}) {
    this.store = options.store ?? new MemoryStore();
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Runs one invocation. A message route's caller counts as connected unless dropped. */
  async invoke(handler: LambdaHandler, spec: WsEventSpec): Promise<InvokeResult> {
    const remembered = spec.connectionId === undefined ? undefined : this.#authorizers.get(spec.connectionId);
    const event = makeWsEvent(spec.authorizer === undefined && remembered !== undefined ? { ...spec, authorizer: remembered } : spec);
    const connectionId = event.requestContext.connectionId;
    // Only an open connection can send a message, so a message's caller is open (unless dropped).
    if (event.requestContext.eventType === 'MESSAGE' && !this.#dropped.has(connectionId)) this.open.add(connectionId);
    const result: { sent: Delivered[]; disconnected: string[]; report?: DeliveryReport } = { sent: [], disconnected: [] };
    this.#current = result;
    const started = Date.now();
    const context = withTestingOverrides(
      {
        awsRequestId: randomUUID(),
        functionName: 'test-function',
        functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test-function',
        memoryLimitInMB: '128',
        logGroupName: '/aws/lambda/test-function',
        logStreamName: 'test',
        callbackWaitsForEmptyEventLoop: false,
        getRemainingTimeInMillis: () => Math.max(0, this.#timeoutMs - (Date.now() - started)),
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      } as Context,
      { transport: this.#transport(), store: this.store, onReport: (report) => (result.report = report), connectGraceMs: 0 },
    );
    let response: WsResult;
    try {
      response = ((await handler(event as never, context as never)) as WsResult | undefined) ?? { statusCode: 200 };
    } finally {
      this.#current = undefined;
      if (spec.routeKey === '$disconnect') {
        this.open.delete(connectionId);
        this.#authorizers.delete(connectionId);
      }
    }
    if (spec.routeKey === '$connect' && response.statusCode < 300) {
      this.open.add(connectionId);
      if (spec.authorizer !== undefined) this.#authorizers.set(connectionId, spec.authorizer);
    }
    if (result.report === undefined) {
      throw new Error(`WsTestHarness: ${spec.routeKey} produced no delivery report; is the handler a wsHandler (or a Middy stack with outbox())?`);
    }
    return { response, sent: result.sent, disconnected: result.disconnected, report: result.report };
  }

  /**
   * Runs $connect for a new (or given) connection id; the socket is open if it returns 2xx.
   * `authorizer` is what a $connect authorizer let it in with; later invocations for this
   * connection carry it too, as API Gateway does.
   */
  async connect(
    handler: LambdaHandler,
    options: { connectionId?: string; query?: Record<string, string>; authorizer?: WsEventSpec['authorizer'] } = {},
  ): Promise<InvokeResult & { connectionId: string }> {
    const connectionId = options.connectionId ?? newConnectionId();
    const result = await this.invoke(handler, { routeKey: '$connect', connectionId, queryStringParameters: options.query, authorizer: options.authorizer });
    return { connectionId, ...result };
  }

  /** The client vanished without a close frame: its row stays, posts to it now get 410. */
  drop(connectionId: string): void {
    this.open.delete(connectionId);
    this.#dropped.add(connectionId);
  }

  /** What a connection has received so far (JSON parsed when possible). */
  received(connectionId: string): unknown[] {
    return this.inbox.get(connectionId) ?? [];
  }

  #transport(): Transport {
    const gone = (id: string) => new TransportError({ kind: 'gone', status: 410, name: 'GoneException', message: `connection ${id} is gone` });
    return {
      post: async (id, body) => {
        if (!this.open.has(id)) throw gone(id);
        const data = decoder.decode(body);
        const json = parse(data);
        this.#current?.sent.push({ connectionId: id, data, json });
        const box = this.inbox.get(id) ?? [];
        box.push(json ?? data);
        this.inbox.set(id, box);
      },
      delete: async (id) => {
        if (!this.open.delete(id)) throw gone(id);
        this.#current?.disconnected.push(id);
      },
      destroy: () => undefined,
    };
  }
}
