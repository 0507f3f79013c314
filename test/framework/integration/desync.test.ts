// The desync fault profile: on a reused keep-alive socket, a stray 410 GoneException (an answer
// meant for another request) arrives just before a request's own answer, and HTTP/1.1 cannot tell
// them apart. Every connection here is live. Without a confirmation the engine takes the stray
// 410 for its own, reports a live connection gone, and prunes its rows; with it (GetConnection on
// a socket of its own), nobody live is pruned and the message is sent again (at least once).
// Real HTTP, both transports, the real DynamoDB store on dynalite.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionStore, wsHandler, type DeliveryReport } from '../../../src/index.ts';
import { destroyTransports } from '../../../src/transport.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';
import { startDynalite, type DynaliteHandle } from '../../helpers/dynalite.ts';
import { startManagementServer, type ManagementServer } from '../../helpers/management-server.ts';

let db: DynaliteHandle;
let api: ManagementServer;
let posts = 0;

beforeAll(async () => {
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  db = await startDynalite('desync-test');
  // Every connection is live (GetConnection: 200); one POST in ten gets a stray 410 in front of its 200.
  api = await startManagementServer(({ method }) => (method === 'POST' && ++posts % 10 === 0 ? { status: 200, strayGone: true } : { status: 200 }), 'prod');
  process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = api.endpoint;
});
afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
  destroyTransports();
  await api?.stop();
  await db?.stop();
});

const collect = async (iterable: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const x of iterable) out.push(x);
  return out;
};

describe.each(['signed', 'sdk'] as const)('the desync fault profile (%s transport)', (transport) => {
  it('prunes no live connection on a misattributed 410, and delivers to everyone', async () => {
    const store = new ConnectionStore({ tableName: db.tableName, client: db.documentClient });
    const room = `desync-${transport}`;
    const live = Array.from({ length: 600 }, (_, i) => `${transport}.live-${i}`);
    for (const id of live) {
      await store.connect(id);
      await store.join(id, room);
    }
    let report: DeliveryReport | undefined;
    const handler = wsHandler(
      async (_event, context) => {
        context.outbox.toRoom(room, { type: 'message', text: 'hello' });
        return { statusCode: 200 };
      },
      {
        store,
        transport,
        concurrency: 20,
        connectGraceMs: 0,
        logger: false,
        onReport: (r) => {
          report = r;
        },
      },
    );
    const before = posts;
    await handler(
      makeWsEvent({ routeKey: 'send', connectionId: live[0]!, body: {} }) as never,
      { getRemainingTimeInMillis: () => 20_000, awsRequestId: 'r' } as never,
    );
    const strays = Math.floor(posts / 10) - Math.floor(before / 10);
    expect(strays).toBeGreaterThan(30);
    const kept = new Set(await collect(store.members(room)));
    const wronglyPruned = live.filter((id) => !kept.has(id)).length;
    console.log(
      `desync (${transport}): ${strays} stray 410s, ${wronglyPruned} live connections pruned, report gone ${report!.gone.length}, pruned ${report!.pruned}`,
    );
    expect(wronglyPruned).toBe(0);
    expect(report!.gone).toEqual([]);
    expect(report!.pruned).toBe(0);
    // Everyone got it: the ones whose answer was a stray 410 were sent again.
    const delivered = new Set(api.delivered.filter((d) => d.connectionId.startsWith(`${transport}.`)).map((d) => d.connectionId));
    expect(delivered.size).toBe(live.length);
    expect(report!.sent + report!.failed.length).toBe(live.length);
  }, 60_000);
});
