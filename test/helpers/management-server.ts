import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  connectionId: string;
  body: Buffer;
  headers: IncomingMessage['headers'];
  /** Which attempt at this id and method this was, from 1. */
  attempt: number;
}

/** What to answer for one request: a status (with an AWS error type), or a stall that never answers. */
export type Behaviour =
  | {
      status: number;
      errorType?: string;
      delayMs?: number;
      /**
       * The desync fault: a stray 410 GoneException response (meant for some earlier request) written on
       * the socket just before this answer, so the client reads it as this request's. HTTP/1.1 cannot
       * tell it apart; the real answer that follows arrives unasked.
       */
      strayGone?: boolean;
    }
  | 'stall';

export interface ManagementServer {
  /** The endpoint to give the SDK, stage path included. */
  endpoint: string;
  requests: ReceivedRequest[];
  /** Ids that got a 200 POST, in arrival order, with their bodies and when (epoch ms). */
  delivered: { connectionId: string; body: string; at: number }[];
  stop(): Promise<void>;
}

/**
 * A loopback server that plays the @connections management API as API Gateway does: POST
 * /{stage}/@connections/{id}, 200 on success, errors as status + x-amzn-ErrorType. `decide`
 * picks the answer per request (410 for gone ids, 429 a few times, stalls, ...).
 */
export const startManagementServer = async (
  decide: (request: Omit<ReceivedRequest, 'body'>) => Behaviour = () => ({ status: 200 }),
  stage = 'test',
): Promise<ManagementServer> => {
  const requests: ReceivedRequest[] = [];
  const delivered: { connectionId: string; body: string; at: number }[] = [];
  const attempts = new Map<string, number>();
  const stalled = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const match = /^\/(?:[^/]+\/)?@connections\/([^/?]+)/.exec(path);
      const connectionId = match ? decodeURIComponent(match[1] ?? '') : '';
      const key = `${req.method} ${connectionId}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const received = { method: req.method ?? '', path, connectionId, headers: req.headers, attempt };
      requests.push({ ...received, body: Buffer.concat(chunks) });
      const behaviour = decide(received);
      if (behaviour === 'stall') {
        stalled.add(res);
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        if (behaviour.strayGone) {
          const stray = JSON.stringify({ message: 'GoneException' });
          res.socket?.write(
            `HTTP/1.1 410 Gone\r\ncontent-type: application/json\r\nx-amzn-errortype: GoneException\r\ncontent-length: ${stray.length}\r\n\r\n${stray}`,
          );
        }
        if (behaviour.status >= 400) {
          res.writeHead(behaviour.status, { 'content-type': 'application/json', 'x-amzn-errortype': behaviour.errorType ?? 'InternalServerErrorException' });
          res.end(JSON.stringify({ message: behaviour.errorType ?? 'error' }));
          return;
        }
        if (req.method === 'POST') delivered.push({ connectionId, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        res.writeHead(req.method === 'DELETE' ? 204 : 200);
        res.end();
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${stage}`,
    requests,
    delivered,
    stop: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

export const gone = { status: 410, errorType: 'GoneException' } as const;
export const throttled = { status: 429, errorType: 'LimitExceededException' } as const;
export const forbidden = { status: 403, errorType: 'ForbiddenException' } as const;
export const tooLarge = { status: 413, errorType: 'PayloadTooLargeException' } as const;
export const serverError = { status: 500, errorType: 'InternalServerErrorException' } as const;
