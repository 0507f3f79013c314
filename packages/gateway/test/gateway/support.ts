// Real `ws` clients for the gateway tests: every received frame is kept (parsed when it is JSON),
// and tests wait for what they expect with a deadline rather than sleeping.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import WebSocket from 'ws';
import type { Gateway } from '../../src/gateway.ts';
import { createLogger, type Logger } from '../../src/log.ts';

export interface Received {
  data: any;
  isBinary: boolean;
  raw: Buffer;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #listeners = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      let data: any = raw;
      if (!isBinary) {
        const text = raw.toString('utf8');
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      }
      this.received.push({ data, isBinary, raw });
      for (const listener of this.#listeners) listener();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens a connection; rejects with `{ status }` when the upgrade is refused. */
  static open(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The parsed messages matching `predicate`. */
  matching(predicate: (data: any) => boolean): any[] {
    return this.received.filter((r) => predicate(r.data)).map((r) => r.data);
  }

  /** Resolves once `count` messages match; rejects after `timeoutMs` saying what was received. */
  waitFor(predicate: (data: any) => boolean, { count = 1, timeoutMs = 15_000 } = {}): Promise<any[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.matching(predicate);
        if (found.length < count) return false;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(found);
        return true;
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`timed out waiting for ${count} matching message(s); received: ${JSON.stringify(this.received.map((r) => r.data)).slice(0, 800)}`));
      }, timeoutMs);
      if (!check()) this.#listeners.add(listener);
    });
  }

  close(code?: number): Promise<{ code: number; reason: string }> {
    this.ws.close(code);
    return this.closed;
  }

  /** Drops the TCP connection without a close frame (a client that vanishes). */
  drop(): Promise<{ code: number; reason: string }> {
    this.ws.terminate();
    return this.closed;
  }
}

/** Resolves when `predicate` is true, polling; rejects with `what` after `timeoutMs`. */
export const eventually = async (predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A token from the gateway's development issuer (GET /dev/token?name=…), as the demo page gets
 * one: `extra` adds query parameters (scope, sub, ttl, aud).
 */
export const devToken = async (wsUrl: string, name: string, extra: Record<string, string> = {}): Promise<string> => {
  const url = new URL('/dev/token', wsUrl.replace(/^ws/, 'http'));
  url.search = new URLSearchParams({ name, ...extra }).toString();
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url.pathname} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
};

/** Opens a client logged in as `name` (a dev token in ?token=). */
export const openAs = async (wsUrl: string, name: string, extra: Record<string, string> = {}): Promise<TestClient> =>
  TestClient.open(`${wsUrl}?token=${encodeURIComponent(await devToken(wsUrl, name, extra))}`);

/**
 * A SAM template with one WebSocket API routing on `action`, for the tests that write their own:
 * `routes` maps route keys to function logical ids, `globals` is the Globals.Function mapping, and
 * `resources` the rest of Resources (the functions), as YAML indented by two.
 */
export const webSocketTemplate = ({ globals, routes, resources }: { globals?: string; routes: Record<string, string>; resources: string }): string => `
Transform: AWS::Serverless-2016-10-31
${globals ? `Globals:\n  Function: ${globals}\n` : ''}Resources:
  Api:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      RouteSelectionExpression: $request.body.action
      Routes:
${Object.entries(routes)
  .map(([key, fn]) => `        ${key}: { FunctionArn: !GetAtt ${fn}.Arn }`)
  .join('\n')}
${resources}`;

/**
 * The event a fixture recorded in the gateway's table (test/fixtures/functions/record.ts) under
 * `kind` and `key`, waited for up to `waitMs`; undefined if it never came.
 */
export const recordedEvent = async (gw: Gateway, kind: string, key: string, waitMs = 10_000): Promise<any> => {
  const db = new DynamoDBClient({ endpoint: gw.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  try {
    let item: any;
    await eventually(
      async () => {
        item = (await db.send(new GetItemCommand({ TableName: gw.tableName, Key: { pk: { S: kind }, sk: { S: key } } }))).Item;
        return item !== undefined;
      },
      `${kind} has ${key}`,
      waitMs,
    ).catch(() => undefined);
    return item === undefined ? undefined : JSON.parse(item.event.S);
  } finally {
    db.destroy();
  }
};

/**
 * A raw request to the gateway's @connections API, SigV4-signed as the SDK signs it (the gateway,
 * as API Gateway, refuses unsigned ones): for tests that look at the wire. `url` is sent as is.
 */
export const signedFetch = async (url: string, method: 'GET' | 'POST' | 'DELETE', body?: string): Promise<Response> => {
  const { protocol, hostname, port, host } = new URL(url);
  const path = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
    region: 'us-east-1',
    service: 'execute-api',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({ protocol, hostname, port: Number(port), method, path, headers: { host }, ...(body === undefined ? {} : { body }) }),
  );
  return fetch(url, { method, headers: signed.headers, ...(body === undefined ? {} : { body }) });
};

/** signedFetch on `<endpoint>/@connections/<id, URL-encoded>`. */
export const signedConnectionsFetch = (endpoint: string, connectionId: string, method: 'GET' | 'POST' | 'DELETE', body?: string): Promise<Response> =>
  signedFetch(`${endpoint}/@connections/${encodeURIComponent(connectionId)}`, method, body);

/** A logger that keeps every line the gateway writes (`lines`), and prints them too with GATEWAY_LOG set. */
export const capturedLog = (): { lines: string[]; logger: Logger } => {
  const lines: string[] = [];
  const logger = createLogger({
    write: (text) => {
      lines.push(text);
      if (process.env.GATEWAY_LOG !== undefined) process.stderr.write(text);
    },
  });
  return { lines, logger };
};

/**
 * Gateway options for a suite that provokes failures on purpose (an authorizer that throws, sends
 * after the freeze, an instance killed while it works): as quiet as `quiet: true`, and every line
 * the gateway still prints (its errors) starts with `[expected: <what>]`, so `npm test`'s output
 * tells the tests working from a problem. GATEWAY_LOG=1 shows the whole log, unlabelled.
 */
export const expectedNoise = (what: string): { quiet: boolean; logger?: Logger } => {
  if (process.env.GATEWAY_LOG !== undefined) return { quiet: false };
  const label = `[expected: ${what}] `;
  return {
    quiet: true,
    logger: createLogger({
      quiet: true,
      write: (text) => {
        process.stderr.write(text.replace(/^(?=.)/gm, label));
      },
    }),
  };
};
