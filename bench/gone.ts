// Gone: 1,000 members of a room, ~30 % of them gone at the sink. The outbox broadcasts to the room
// through a real ConnectionStore on dynalite, and a counting proxy between the store's client and
// dynalite records every DynamoDB request by operation (X-Amz-Target), retries included.
// Prints one JSON line. Usage: node bench/gone.ts --n 1000 [--no-confirm] (the sink's endpoint in
// AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, its gone share set by the harness). --no-confirm: the
// signed transport without its 410 confirmation (GetConnection on a socket of its own), to price it.
import { createSignedTransport } from '../src/management/signed-transport.ts';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ConnectionStore, wsHandler, type DeliveryReport } from '../src/index.ts';
import { connectionsPartition, roomPartition } from '../src/store/keys.ts';
import { maxWriteBatch } from '../src/store/batch.ts';
import { startDynalite } from '../test/helpers/dynalite.ts';
import { lambdaContext, messageEvent } from './contenders/outbox.ts';
import { startDynamoProxy } from './lib/dynamo-proxy.ts';
import { benchIds } from './lib/gone.ts';

const defaults = { n: 1000, extraRooms: 10 };
const { values } = parseArgs({ options: { n: { type: 'string' }, 'no-confirm': { type: 'boolean', default: false } } });
const n = Number(values.n ?? defaults.n);

const dynamo = await startDynalite('ws-outbox-bench');
const proxy = await startDynamoProxy(dynamo.endpoint);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: proxy.endpoint, region: 'us-east-1' }), {
  marshallOptions: { removeUndefinedValues: true },
});
const store = new ConnectionStore({ tableName: dynamo.tableName, client });
// The members connected a minute ago: a 410 for a connection younger than the $connect grace
// (30 s) keeps its row, since API Gateway answers 410 until $connect returns.
const earlier = new ConnectionStore({ tableName: dynamo.tableName, client, now: () => Date.now() - 60_000 });

// Every member is in the broadcast room and one other, so a gone id owns 3 items.
const ids = benchIds(n);
for (let i = 0; i < ids.length; i += 50) {
  await Promise.all(
    ids.slice(i, i + 50).map(async (id, k) => {
      await earlier.connect(id);
      await earlier.join(id, 'bench');
      await earlier.join(id, `room-${(i + k) % defaults.extraRooms}`);
    }),
  );
}

let report: DeliveryReport | undefined;
const handler = wsHandler(
  async (_event, context) => {
    context.outbox.toRoom('bench', { type: 'message', room: 'bench', text: 'who is still there?' });
    return { statusCode: 200 };
  },
  {
    store,
    onReport: (r) => {
      report = r;
    },
    logger: false,
    transport: values['no-confirm'] ? (options) => ({ ...createSignedTransport(options), confirmGone: undefined }) : 'signed',
  },
);

proxy.start();
await handler(messageEvent('conn-0') as never, lambdaContext() as never);
const requests = proxy.stop();

// What is left, read directly: the room must hold exactly the live members.
const countIn = async (pk: string) =>
  (
    await dynamo.documentClient.send(
      new QueryCommand({ TableName: dynamo.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, Select: 'COUNT' }),
    )
  ).Count ?? 0;
const countConnections = async () => {
  let total = 0;
  for (let shard = 0; shard < store.shards; shard++) total += await countIn(connectionsPartition(shard));
  return total;
};
const r = report as DeliveryReport | undefined;
const gone = r?.gone.length ?? 0;
const itemsDeleted = gone * (1 + 2);
const batchWrite = requests.BatchWriteItem ?? 0;
process.stdout.write(
  `${JSON.stringify({
    recipients: n,
    confirm: !values['no-confirm'],
    sent: r?.sent,
    gone,
    pruned: r?.pruned,
    failed: r?.failed.length,
    itemsDeleted,
    requests,
    batchWriteBound: Math.ceil(itemsDeleted / maxWriteBatch),
    batchWriteWithinBound: batchWrite <= Math.ceil(itemsDeleted / maxWriteBatch),
    roomMembersAfter: await countIn(roomPartition('bench')),
    connectionsAfter: await countConnections(),
    expectedAfter: n - gone,
    durationMs: r?.durationMs,
  })}\n`,
);
proxy.close();
client.destroy();
await dynamo.stop();
process.exit(0);
