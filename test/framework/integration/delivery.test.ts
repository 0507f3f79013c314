import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore, wsHandler, type DeliveryReport } from '../../../src/index.ts';
import { destroyTransports } from '../../../src/transport.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { startDynalite, type DynaliteHandle } from '../../helpers/dynalite.ts';
import { gone, startManagementServer, throttled, type ManagementServer } from '../../helpers/management-server.ts';

// The delivery engine with the real SDK client, over real HTTP, against a loopback server that
// plays the @connections API, and a real DynamoDB-protocol server for the prune.

let db: DynaliteHandle;
let api: ManagementServer;
const goneIds = new Set(['gone-1', 'gone-2', 'gone-3']);
const stalledIds = new Set(['stall-1']);
const throttledIds = new Set(['busy-1', 'busy-2']);

beforeAll(async () => {
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  db = await startDynalite('delivery-test');
  api = await startManagementServer(({ connectionId: id, attempt }) => {
    // Ids may carry a "<transport>." prefix so that each run starts its own attempt counts.
    const connectionId = id.slice(id.indexOf('.') + 1);
    if (goneIds.has(connectionId)) return gone;
    if (stalledIds.has(connectionId)) return 'stall';
    if (throttledIds.has(connectionId) && attempt <= 2) return throttled;
    return { status: 200 };
  }, 'prod');
  process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = api.endpoint;
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
  destroyTransports();
  await api?.stop();
  await db?.stop();
});

const collect = async (it: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe.each(['signed', 'sdk'] as const)('delivery over HTTP, %s transport', (transport) => {
  it('delivers to a room: retries 429s, reports and prunes 410s, times out stalls', async () => {
    api.requests.length = 0;
    api.delivered.length = 0;
    const store = new ConnectionStore({ tableName: db.tableName, client: db.documentClient });
    const as = (ids: Iterable<string>) => [...ids].map((id) => `${transport}.${id}`);
    const live = as(Array.from({ length: 40 }, (_, i) => `live-${i}`));
    const [goneHere, stalledHere, throttledHere] = [as(goneIds), as(stalledIds), as(throttledIds)];
    const everyone = [...live, ...goneHere, ...stalledHere, ...throttledHere];
    const room = `lobby-${transport}`;
    for (const id of everyone) {
      await store.connect(id);
      await store.join(id, room);
    }
    let report: DeliveryReport | undefined;
    const handler = wsHandler(async (_event, context) => context.outbox.toRoom(room, { type: 'message', text: 'hi' }), {
      store,
      transport,
      logger: false,
      errorLogger: false,
      requestTimeoutMs: 150,
      maxAttempts: 3,
      backoff: { baseMs: 5, throttledBaseMs: 10, capMs: 50 },
      // These rows were written a moment ago; the grace for connections still in $connect is
      // tested on its own (prune-grace.test.ts).
      connectGraceMs: 0,
      onReport: (r) => void (report = r),
    });
    const started = Date.now();
    const response = await handler(makeWsEvent({ routeKey: 'send', connectionId: live[0], body: {}, stage: 'prod' }), {
      awsRequestId: 'r1',
      getRemainingTimeInMillis: () => 10_000 - (Date.now() - started),
    } as never);

    expect(response).toEqual({ statusCode: 200 });
    expect(report).toBeDefined();
    const r = report!;
    expect(r.queued).toBe(everyone.length);
    expect(r.sent).toBe(live.length + throttledHere.length);
    expect([...r.gone].sort()).toEqual(goneHere.sort());
    expect(r.failed).toEqual([{ connectionId: stalledHere[0], reason: 'timeout', error: 'TimeoutError', status: undefined }]);
    expect(r.pruned).toBe(goneHere.length);
    expect(r.sent + r.gone.length + r.failed.length).toBe(r.queued);

    // What the server saw: signed POSTs to /prod/@connections/{id}, the payload as sent.
    const posts = api.requests.filter((q) => q.method === 'POST');
    expect(posts.every((q) => q.path.startsWith('/prod/@connections/'))).toBe(true);
    expect(posts.every((q) => String(q.headers.authorization).startsWith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/'))).toBe(true);
    expect(posts.every((q) => String(q.headers.authorization).includes('/us-east-1/execute-api/aws4_request'))).toBe(true);
    expect(new Set(api.delivered.map((d) => d.connectionId))).toEqual(new Set([...live, ...throttledHere]));
    expect(api.delivered.every((d) => d.body === '{"type":"message","text":"hi"}')).toBe(true);
    for (const id of throttledHere) expect(posts.filter((q) => q.connectionId === id)).toHaveLength(3);
    for (const id of goneHere) expect(posts.filter((q) => q.connectionId === id)).toHaveLength(1);
    expect(posts.filter((q) => q.connectionId === stalledHere[0])).toHaveLength(3);

    // The gone ids are gone from the table: connection items and memberships.
    expect((await collect(store.members(room))).sort()).toEqual([...live, ...stalledHere, ...throttledHere].sort());
    for (const id of goneHere) {
      expect(await store.get(id)).toBeUndefined();
      const raw = await db.documentClient.send(
        new QueryCommand({
          TableName: db.tableName,
          KeyConditionExpression: 'pk = :p AND sk = :s',
          ExpressionAttributeValues: { ':p': `room#${room}`, ':s': id },
        }),
      );
      expect(raw.Items).toEqual([]);
    }
  });
});

describe('delivery over HTTP, engine limits', () => {
  it('URL-encodes connection ids in the path', async () => {
    const handler = wsHandler(async (_e, context) => context.outbox.send('L0SM9c/+vHcCIhw=', 'x'), { store: false, logger: false });
    await handler(makeWsEvent({ routeKey: 'send', body: {} }), { getRemainingTimeInMillis: () => 5000 } as never);
    const last = api.requests.at(-1)!;
    expect(last.path).toBe('/prod/@connections/L0SM9c%2F%2BvHcCIhw%3D');
    expect(last.connectionId).toBe('L0SM9c/+vHcCIhw=');
  });

  it('stops at the deadline and reports the rest as failed (deadline)', async () => {
    const ids = Array.from({ length: 30 }, () => 'stall-1');
    let report: DeliveryReport | undefined;
    const handler = wsHandler(async (_e, context) => context.outbox.broadcast(['busy-x', 'stall-1', ...ids.map((_, i) => `late-${i}`)], 'x'), {
      store: false,
      logger: false,
      concurrency: 1,
      safetyMarginMs: 200,
      requestTimeoutMs: 5000,
      onReport: (r) => void (report = r),
    });
    const started = Date.now();
    await handler(makeWsEvent({ routeKey: 'send', body: {} }), { getRemainingTimeInMillis: () => 600 - (Date.now() - started) } as never);
    expect(Date.now() - started).toBeLessThan(600);
    expect(report!.sent).toBe(1);
    expect(report!.failed).toHaveLength(31);
    expect(report!.failed.every((f) => f.reason === 'deadline')).toBe(true);
  });
});
