// Loopback stand-ins for what the cold functions call, in the bench's own process (its CPU is not
// in the measured function's cgroup): DynamoDB (JSON protocol, answers by X-Amz-Target with a
// connection that is in room "lobby" and a room whose only member is that connection), the
// @connections API (POST 200, DELETE 204), and an OIDC issuer's JWKS for the authorizer.
// Unsigned AWS requests get 403, so that nobody wins by skipping SigV4. Every request is
// counted, so the bench can check that each contender did the work it claims.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface Stubs {
  endpoint: string;
  connectionsEndpoint: string;
  issuer: string;
  token: string;
  /** Requests since the last take(), by kind ("dynamodb:GetItem", "connections:POST", "jwks"). */
  take(): Record<string, number>;
  stop(): Promise<void>;
}

export const coldConnectionId = 'Y0lDq2ColdAAA=';
export const audience = 'cold-bench';
const farFuture = () => String(Math.floor(Date.now() / 1000) + 3600);

const dynamoAnswers: Record<string, () => unknown> = {
  GetItem: () => ({
    Item: {
      pk: { S: 'connections#0' },
      sk: { S: coldConnectionId },
      ttl: { N: farFuture() },
      connectedAt: { N: String(Date.now() - 60_000) },
      name: { S: 'alice' },
      userId: { S: 'user-1' },
      rooms: { SS: ['lobby'] },
    },
  }),
  Query: () => ({ Items: [{ sk: { S: coldConnectionId } }], Count: 1, ScannedCount: 1 }),
  UpdateItem: () => ({ Attributes: { ttl: { N: farFuture() } } }),
  PutItem: () => ({}),
  DeleteItem: () => ({}),
  BatchGetItem: () => ({ Responses: {}, UnprocessedKeys: {} }),
  BatchWriteItem: () => ({ UnprocessedItems: {} }),
};

const readBody = (req: http.IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });

export const startStubs = async (): Promise<Stubs> => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'cold', alg: 'RS256', use: 'sig' };
  let counts: Record<string, number> = {};
  const count = (kind: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, payload: unknown, type = 'application/json') => {
      const text = payload === undefined ? '' : JSON.stringify(payload);
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
    };
    if (req.url === '/.well-known/jwks.json') {
      count('jwks');
      return send(200, { keys: [jwk] });
    }
    if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
      count('unsigned');
      return send(403, { message: 'Missing Authentication Token' });
    }
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('DynamoDB_20120810.')) {
      const operation = target.slice(18);
      count(`dynamodb:${operation}`);
      JSON.parse(body.toString() || '{}');
      const answer = dynamoAnswers[operation];
      return answer
        ? send(200, answer(), 'application/x-amz-json-1.0')
        : send(400, { __type: 'com.amazon.coral.validate#ValidationException', message: `stub: no ${operation}` }, 'application/x-amz-json-1.0');
    }
    if (req.url?.includes('/@connections/')) {
      count(`connections:${req.method}`);
      return req.method === 'DELETE' ? res.writeHead(204).end() : send(200, undefined);
    }
    count('unknown');
    send(404, { message: `stub: nothing at ${req.method} ${req.url}` });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = await new SignJWT({ name: 'alice', scope: 'openid' })
    .setProtectedHeader({ alg: 'RS256', kid: 'cold' })
    .setIssuer(origin)
    .setAudience(audience)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return {
    endpoint: origin,
    connectionsEndpoint: `${origin}/cold`,
    issuer: origin,
    token,
    take: () => {
      const taken = counts;
      counts = {};
      return taken;
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
