// The room log's cost (README "Reconnects and resume"): the same toRoom messages, one invocation
// each, through a real ConnectionStore on dynalite, with sessions off, on, and on with the send
// acknowledged (a `$cid` from ws-outbox/client: its claim before the route and its end after),
// interleaved in the same run. A counting proxy between the store's client and dynalite records every DynamoDB
// request by operation (and adds a round trip, as DynamoDB in-region has); the sink plays
// @connections. Both run in processes of their own, so the CPU measured (process.cpuUsage() of
// this process) is the invocation's alone. Per message: DynamoDB requests, wall ms, CPU µs.
//
//   node bench/room-log.ts [--messages 200] [--members 20] [--rtt 4] [--quick]
//
// Prints a table and one JSON line; exits 1 if a message was not delivered to every member.
import { parseArgs } from 'node:util';
import { ConnectionStore, wsHandler, type DeliveryReport } from '../src/index.ts';
import { createLiteDocumentClient } from '../src/store/dynamodb/document-client.ts';
import { destroyTransports } from '../src/transport.ts';
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { createInterface } from 'node:readline';
import { lambdaContext, messageEvent } from './contenders/outbox.ts';
import { startSink } from './lib/sink-process.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string' }, members: { type: 'string' }, rtt: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const messages = Number(values.messages ?? (values.quick ? 60 : 300));
const members = Number(values.members ?? 20);
// DynamoDB in-region answers in a few ms; dynalite on loopback in well under one.
const rttMs = Number(values.rtt ?? 4);

process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'AKIDBENCHMARK';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
const sink = await startSink();
await sink.configure({ delayMs: 0, goneShare: 0, rateLimit: 0 });
process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = sink.endpoint;
// The same Node flags (--conditions=ws-outbox-source: the gateway's dynalite imports the library by name).
const child = spawn(
  process.execPath,
  [...process.execArgv, new URL('./lib/dynamo-child.ts', import.meta.url).pathname, 'ws-outbox-room-log-bench', String(rttMs)],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const [line] = (await onceEvent(createInterface({ input: child.stdout! }), 'line')) as [string];
const dynamo = JSON.parse(line) as { endpoint: string; control: string; tableName: string };
const proxy = {
  start: async () => void (await fetch(`${dynamo.control}/start`, { method: 'POST' })),
  stop: async () => (await (await fetch(`${dynamo.control}/stop`, { method: 'POST' })).json()) as Record<string, number>,
};
// The store's default client in Lambda: the lean one.
const client = createLiteDocumentClient({ endpoint: dynamo.endpoint });
const withSessions = new ConnectionStore({ tableName: dynamo.tableName, client, sessions: { windowSeconds: 120 } });
const stores = {
  'no log': new ConnectionStore({ tableName: dynamo.tableName, client, sessions: false }),
  'room log': withSessions,
  'room log, acked send': withSessions,
};
/** The acked variant's sends carry a cid and come from a verified user; its ack is one more post. */
const acked = (name: keyof typeof stores) => name === 'room log, acked send';

for (let i = 0; i < members; i++) {
  await stores['no log'].connect(`member-${i}`);
  await stores['no log'].join(`member-${i}`, 'bench');
}

type Totals = { wallMs: number; cpuUs: number; requests: Record<string, number>; sent: number; queued: number };
const totals: Record<keyof typeof stores, Totals> = {
  'no log': { wallMs: 0, cpuUs: 0, requests: {}, sent: 0, queued: 0 },
  'room log': { wallMs: 0, cpuUs: 0, requests: {}, sent: 0, queued: 0 },
  'room log, acked send': { wallMs: 0, cpuUs: 0, requests: {}, sent: 0, queued: 0 },
};
const handlers = Object.fromEntries(
  Object.entries(stores).map(([name, store]) => {
    let report: DeliveryReport | undefined;
    const handler = wsHandler(
      async (event, context) => {
        context.outbox.toRoom('bench', { type: 'message', room: 'bench', text: `message ${(event.body as { i: number }).i}` });
      },
      {
        store,
        transport: 'signed',
        logger: false,
        onReport: (r) => {
          report = r;
        },
      },
    );
    return [name, { run: handler, report: () => report }];
  }),
) as Record<keyof typeof stores, { run: ReturnType<typeof wsHandler>; report: () => DeliveryReport | undefined }>;

const eventFor = (name: keyof typeof stores, i: number) => {
  const event = messageEvent('member-0');
  if (!acked(name)) return { ...event, body: JSON.stringify({ i }) };
  return {
    ...event,
    requestContext: { ...event.requestContext, authorizer: { principalId: 'bench-user' } },
    body: JSON.stringify({ i, $cid: `c${i}-${runId}` }),
  };
};
// Claims outlive the run (TTL): cids of a run of their own.
const runId = Date.now().toString(36);

const once = async (name: keyof typeof stores, i: number) => {
  const event = eventFor(name, i);
  await proxy.start();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await handlers[name].run(event as never, lambdaContext() as never);
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const requests = await proxy.stop();
  const t = totals[name];
  t.wallMs += wall;
  t.cpuUs += used.user + used.system;
  for (const [op, count] of Object.entries(requests)) t.requests[op] = (t.requests[op] ?? 0) + count;
  const report = handlers[name].report();
  t.sent += report?.sent ?? 0;
  t.queued += report?.queued ?? 0;
};

// Warm both (modules, sockets, credentials), then interleave so that load drift hits both alike.
for (const name of Object.keys(stores) as (keyof typeof stores)[]) await handlers[name].run(eventFor(name, -1) as never, lambdaContext() as never);
for (const t of Object.values(totals)) Object.assign(t, { wallMs: 0, cpuUs: 0, requests: {}, sent: 0, queued: 0 });
const names = Object.keys(stores) as (keyof typeof stores)[];
for (let i = 0; i < messages; i++) {
  // Each variant first, in the middle and last in turn.
  const order = names.map((_, k) => names[(k + i) % names.length]!);
  for (const name of order) await once(name, i);
}

const per = (t: Totals) => ({
  wallMs: t.wallMs / messages,
  cpuUs: t.cpuUs / messages,
  dynamoRequests: Object.values(t.requests).reduce((a, b) => a + b, 0) / messages,
  byOperation: Object.fromEntries(Object.entries(t.requests).map(([op, count]) => [op, count / messages])),
  delivered: t.sent,
});
const off = per(totals['no log']);
const on = per(totals['room log']);
const ack = per(totals['room log, acked send']);
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const result = {
  messages,
  members,
  rttMs,
  noLog: off,
  roomLog: on,
  ratio: { wallMs: ratio(on.wallMs, off.wallMs), cpuUs: ratio(on.cpuUs, off.cpuUs), dynamoRequests: ratio(on.dynamoRequests, off.dynamoRequests) },
  ackedSend: ack,
  // The acked send against the room log alone: what acknowledging a client's send adds.
  ackRatio: { wallMs: ratio(ack.wallMs, on.wallMs), cpuUs: ratio(ack.cpuUs, on.cpuUs), dynamoRequests: ratio(ack.dynamoRequests, on.dynamoRequests) },
};
const row = (name: string, p: ReturnType<typeof per>) =>
  `| ${name} | ${p.dynamoRequests.toFixed(2)} (${Object.entries(p.byOperation)
    .map(([op, n]) => `${op} ${n.toFixed(2)}`)
    .join(', ')}) | ${p.wallMs.toFixed(2)} | ${p.cpuUs.toFixed(0)} |`;
console.error(
  [
    `room log cost: ${messages} toRoom messages to ${members} members each, DynamoDB round trip ${rttMs} ms (same run, interleaved)`,
    '| | DynamoDB requests / message | wall ms / message | CPU µs / message |',
    '| --- | --- | --- | --- |',
    row('no log', off),
    row('room log', on),
    `| ratio | ×${result.ratio.dynamoRequests} | ×${result.ratio.wallMs} | ×${result.ratio.cpuUs} |`,
    row('room log, acked send', ack),
    `| acked / room log | ×${result.ackRatio.dynamoRequests} | ×${result.ackRatio.wallMs} | ×${result.ackRatio.cpuUs} |`,
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(result)}\n`);

// The acked send's ack is one more post per message.
const complete =
  totals['no log'].sent === messages * members &&
  totals['room log'].sent === messages * members &&
  totals['room log, acked send'].sent === messages * (members + 1);
client.destroy();
destroyTransports();
await sink.stop();
child.stdin!.end();
await onceEvent(child, 'exit');
process.exit(complete ? 0 : 1);
