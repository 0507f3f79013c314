// Every file in events/ runs through its function's built bundle, the way `sam local invoke
// <Fn> -e events/<x>.json --env-vars env.json` would run it: the template's environment with
// env.json's overrides (declared variables only), each invocation in a fresh Node 24 process that
// exits as soon as the handler settles (Lambda's freeze), against real dynalite and a loopback
// @connections server standing in for host.docker.internal.
//
// The files tell one story for one connection: connect (alice) → join lobby → send → a spilled
// lobby message reaching the fan-out worker → leave → an unknown action → disconnect. Each step's
// outcome is checked in the table and on the wire. Every route event carries what the $connect
// authorizer let alice in with (requestContext.authorizer); authorize.json is the authorizer's own
// REQUEST event, with a sample token long expired.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectionKey } from '../../src/store/keys.ts';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { build, type BuiltFunction } from '../../build.mjs';
import { createHash } from 'node:crypto';
import { parseFanoutMessage } from '../../src/fanout/message.ts';
import {
  createTableInput,
  functionsOf,
  loadTemplate,
  localRefs,
  queuesOf,
  resolveEnvironment,
  routesOf,
  tableOf,
} from '../../packages/gateway/src/template.ts';
import { startDynalite, type DynaliteHandle } from '../helpers/dynalite.ts';
import { startManagementServer, type ManagementServer } from '../helpers/management-server.ts';
import { repoRoot, runNode, templatePath, tempDir } from '../helpers/node.ts';

const eventsDir = join(repoRoot, 'events');
const template = loadTemplate(templatePath);
const functions = new Map(functionsOf(template).map((f) => [f.logicalId, f]));
const routes = routesOf(template);
const envJson = JSON.parse(readFileSync(join(repoRoot, 'env.json'), 'utf8')) as Record<string, Record<string, string>>;
const readEvent = (name: string) => JSON.parse(readFileSync(join(eventsDir, `${name}.json`), 'utf8'));

// One event per route, named after it, and one per SQS event source (fanout.json: the FanoutQueue record).
const story = ['connect', 'join', 'send', 'fanout', 'leave', 'default', 'disconnect'];
const queueEvents: Record<string, string> = { fanout: 'FanoutFunction' };
const routeOfFile = (name: string) => (['connect', 'disconnect', 'default'].includes(name) ? `$${name}` : name);
const functionOfFile = (name: string) => queueEvents[name] ?? routes[routeOfFile(name)]!;

describe('events/', () => {
  it("holds the example's story, one event per chat route, each shaped like APIGatewayProxyWebsocketEventV2", () => {
    const files = readdirSync(eventsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    expect(files).toEqual(expect.arrayContaining(story));
    const routeFiles = files.filter((name) => name !== 'authorize' && !(name in queueEvents));
    // Every event is for a route of the template (a sample for a route you add is welcome, not required).
    for (const name of routeFiles) expect(Object.keys(routes)).toContain(readEvent(name).requestContext.routeKey);
    for (const name of story.filter((n) => !(n in queueEvents))) {
      const event = readEvent(name);
      const rc = event.requestContext;
      expect(rc.routeKey).toBe(routeOfFile(name));
      expect(rc.eventType).toBe(name === 'connect' ? 'CONNECT' : name === 'disconnect' ? 'DISCONNECT' : 'MESSAGE');
      expect(event.isBase64Encoded).toBe(false);
      expect(rc).toMatchObject({ messageDirection: 'IN', stage: 'dev', apiId: 'a1b2c3d4e5', connectionId: 'Xb1CdcwFoAMCJdw=' });
      expect(rc.domainName).toBe(`${rc.apiId}.execute-api.us-east-1.amazonaws.com`);
      expect(rc.identity.sourceIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      for (const key of ['requestId', 'extendedRequestId', 'requestTime']) expect(typeof rc[key]).toBe('string');
      expect(rc.requestTimeEpoch).toBeGreaterThanOrEqual(rc.connectedAt);
      // API Gateway's stringified authorizer context, beside principalId, on every route.
      expect(rc.authorizer).toEqual({ principalId: 'dev-alice', name: 'alice', broadcast: 'false', integrationLatency: expect.any(Number) });
      expect(new Date(rc.requestTimeEpoch).toISOString().slice(0, 10)).toBe('2026-11-27');
      if (rc.eventType === 'MESSAGE') {
        expect(typeof rc.messageId).toBe('string');
        expect(JSON.parse(event.body).action).toBe(name === 'default' ? 'dance' : name);
      } else {
        expect(event.body).toBeUndefined();
      }
    }
    const connect = readEvent('connect');
    expect(connect.queryStringParameters).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) });
    expect(connect.multiValueQueryStringParameters).toEqual({ token: [connect.queryStringParameters.token] });
    const authorize = readEvent('authorize');
    expect(authorize).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/$connect',
      queryStringParameters: connect.queryStringParameters,
    });
    expect(authorize.requestContext.authorizer).toBeUndefined(); // it is what decides that
    const claims = JSON.parse(Buffer.from(connect.queryStringParameters.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'dev-alice', name: 'alice' });
    expect(claims.exp * 1000).toBeLessThan(Date.now());
    expect(connect.headers['Sec-WebSocket-Version']).toBe('13');
    expect(connect.multiValueHeaders.Host).toEqual([connect.headers.Host]);
    expect(readEvent('disconnect').requestContext).toMatchObject({ disconnectStatusCode: 1001, disconnectReason: 'Going away' });
  });

  it("holds one SQS event per event source function, shaped like Lambda's SQSEvent, carrying a valid fan-out message", () => {
    const withQueues = functionsOf(template)
      .filter((f) => f.sqsEvents.length > 0)
      .map((f) => f.logicalId);
    expect(Object.values(queueEvents).sort()).toEqual(withQueues.sort());
    const queueNames = queuesOf(template).map((q) => q.logicalId);
    const event = readEvent('fanout');
    expect(event.Records).toHaveLength(1);
    const [record] = event.Records;
    expect(record).toMatchObject({ eventSource: 'aws:sqs', awsRegion: 'us-east-1', messageAttributes: {} });
    for (const key of ['messageId', 'receiptHandle', 'body']) expect(typeof record[key]).toBe('string');
    expect(record.attributes).toMatchObject({ ApproximateReceiveCount: '1', SentTimestamp: expect.stringMatching(/^\d+$/) });
    expect(record.md5OfBody).toBe(createHash('md5').update(record.body).digest('hex'));
    // The queue as CloudFormation names it: <stack>-<logical id>-<suffix>.
    expect(record.eventSourceARN).toMatch(new RegExp(`^arn:aws:sqs:us-east-1:\\d{12}:ws-outbox-(${queueNames.join('|')})-[A-Z0-9]+$`));
    expect(record.eventSourceARN).toContain('-FanoutQueue-');
    // A message the sender writes: the lobby of this story, for its one connection.
    expect(parseFanoutMessage(record.body)).toMatchObject({
      target: 'room',
      room: 'lobby',
      hop: 0,
      endpoint: 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev',
    });
  });
});

describe('events/ through their bundles (sam local invoke, without Docker)', () => {
  const connectionId = 'Xb1CdcwFoAMCJdw=';
  let dynalite: DynaliteHandle;
  let management: ManagementServer;
  let bundles: Map<string, BuiltFunction>;
  let workdir: string;
  const tableName = envJson.Parameters!.TABLE_NAME!;

  beforeAll(async () => {
    workdir = tempDir('events');
    [dynalite, management, bundles] = await Promise.all([
      startDynalite(),
      startManagementServer(() => ({ status: 200 }), 'dev'),
      build({ outdir: join(workdir, 'dist') }).then((built) => new Map(built.map((b) => [b.logicalId, b]))),
    ]);
    // env.json names the table the local gateway creates; create it from the template's definition.
    await dynalite.client.send(new CreateTableCommand(createTableInput(tableOf(template), tableName) as never));
  }, 60_000);
  afterAll(async () => {
    await Promise.all([dynalite?.stop(), management?.stop()]);
  });

  /** What `sam local invoke` gives the function: template variables, then env.json's declared overrides. */
  const environmentFor = (logicalId: string): Record<string, string> => {
    const fn = functions.get(logicalId)!;
    const env = resolveEnvironment(fn, localRefs(template, { Table: 'Table', FanoutQueue: 'FanoutQueue' }));
    for (const scope of ['Parameters', logicalId]) {
      for (const [name, value] of Object.entries(envJson[scope] ?? {})) if (name in env) env[name] = value;
    }
    // host.docker.internal is how the container reaches the host; here the host is loopback.
    const managementOrigin = new URL(management.endpoint).origin;
    for (const [name, value] of Object.entries(env)) {
      env[name] = value.replace('http://host.docker.internal:3001', managementOrigin).replace('http://host.docker.internal:8000', dynalite.endpoint);
    }
    // The AWS_* variables sam local sets itself (it uses these keys when there are no credentials).
    return {
      ...env,
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'defaultkey',
      AWS_SECRET_ACCESS_KEY: 'defaultsecret',
      AWS_LAMBDA_FUNCTION_NAME: logicalId,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    };
  };

  const invoke = async (name: string, env: Record<string, string> = {}): Promise<{ statusCode?: number; body?: string; batchItemFailures?: unknown[] }> => {
    const logicalId = name === 'authorize' ? 'AuthorizerFunction' : functionOfFile(name);
    const resultPath = join(workdir, `${name}.result.json`);
    writeFileSync(resultPath, '');
    const run = await runNode(
      [
        join(repoRoot, 'test/helpers/invoke-bundle.mjs'),
        bundles.get(logicalId)!.outfile,
        join(eventsDir, `${name}.json`),
        resultPath,
        String(functions.get(logicalId)!.timeout),
        logicalId,
      ],
      { env: { ...environmentFor(logicalId), ...env } },
    );
    expect({ name, code: run.code }).toEqual({ name, code: 0 });
    const outcome = JSON.parse(readFileSync(resultPath, 'utf8')) as {
      ok: boolean;
      result?: { statusCode?: number; body?: string; batchItemFailures?: unknown[] };
      error?: unknown;
    };
    if (name === 'authorize') return outcome as never;
    expect({ name, ...outcome, error: outcome.error ?? run.stderr }).toMatchObject({ name, ok: true });
    return outcome.result ?? {};
  };

  /** The POSTs this step caused, as parsed JSON messages. */
  const postsSince = (start: number) => management.delivered.slice(start).map((d) => ({ to: d.connectionId, message: JSON.parse(d.body) }));
  const connectionItem = async () => (await dynalite.documentClient.send(new GetCommand({ TableName: tableName, Key: connectionKey(connectionId) }))).Item;
  const lobby = async () =>
    (
      await dynalite.documentClient.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'room#lobby' },
        }),
      )
    ).Items ?? [];

  // The steps depend on each other (one connection's life), so they run in order in one test.
  it('runs connect → join → send → fanout → leave → default → disconnect with the expected effects', async () => {
    let mark = management.delivered.length;
    const connect = await invoke('connect');
    expect(connect.statusCode).toBe(200);
    expect(await connectionItem()).toMatchObject({ ...connectionKey(connectionId), name: 'alice', userId: 'dev-alice' });
    expect(postsSince(mark)).toEqual([]); // $connect never posts: the connection does not exist yet

    mark = management.delivered.length;
    expect((await invoke('join')).statusCode).toBe(200);
    expect((await lobby()).map((i) => i.sk)).toEqual([connectionId]);
    expect(postsSince(mark)).toEqual([
      { to: connectionId, message: { type: 'joined', id: expect.any(String), room: 'lobby', connectionId, name: 'alice', seq: expect.any(Number) } },
    ]);
    const ids = [postsSince(mark)[0]!.message.id];

    mark = management.delivered.length;
    expect((await invoke('send')).statusCode).toBe(200);
    expect(postsSince(mark)).toEqual([
      {
        to: connectionId,
        message: {
          type: 'message',
          id: expect.any(String),
          room: 'lobby',
          from: { id: connectionId, name: 'alice' },
          text: 'hello from sam local invoke',
          seq: expect.any(Number),
        },
      },
    ]);
    ids.push(postsSince(mark)[0]!.message.id);

    // The worker delivers the lobby's shard of a spilled message: alice is a member, and it is done.
    mark = management.delivered.length;
    expect(await invoke('fanout')).toEqual({ batchItemFailures: [] });
    expect(postsSince(mark)).toEqual([
      {
        to: connectionId,
        message: {
          type: 'message',
          id: '5b0b7d5e-8f1c-4f0a-9b5e-2f4f0e6d9c31',
          room: 'lobby',
          from: { id: connectionId, name: 'alice' },
          text: 'hello from the fan-out queue',
        },
      },
    ]);

    mark = management.delivered.length;
    expect((await invoke('leave')).statusCode).toBe(200);
    expect(await lobby()).toEqual([]);
    expect(postsSince(mark)).toEqual([
      { to: connectionId, message: { type: 'left', id: expect.any(String), room: 'lobby', connectionId, name: 'alice', seq: expect.any(Number) } },
    ]);
    ids.push(postsSince(mark)[0]!.message.id);
    // The events carry fixed request ids; the event ids are fresh anyway (each bundle run is a new process).
    expect(new Set(ids).size).toBe(3);

    mark = management.delivered.length;
    const unknown = await invoke('default');
    expect(unknown.statusCode).toBe(400);
    const [error, ...more] = postsSince(mark);
    expect(more).toEqual([]);
    expect(error).toMatchObject({ to: connectionId, message: { type: 'error' } });
    expect(error!.message.message).toContain('dance');

    mark = management.delivered.length;
    expect((await invoke('disconnect')).statusCode).toBe(200);
    expect(await connectionItem()).toBeUndefined();
    expect(postsSince(mark)).toEqual([]);

    // Its user-index row went with it.
    expect(
      (await dynalite.documentClient.send(new GetCommand({ TableName: tableName, Key: { pk: 'user#dev-alice', sk: connectionId } }))).Item,
    ).toBeUndefined();

    // Every request reached the management API on the path the SDK builds from the override.
    expect(management.requests.every((r) => r.method === 'POST' && r.path === `/@connections/${encodeURIComponent(connectionId)}`)).toBe(true);
  }, 60_000);

  it('authorize.json: the authorizer bundle refuses its long-expired sample token with "Unauthorized" (401)', async () => {
    // An https issuer that is never contacted: the sample's iss (the local dev issuer) differs, so
    // it is refused before any key fetch.
    const outcome = (await invoke('authorize', { ISSUER_URL: 'https://issuer.invalid', AUDIENCE: 'ws-outbox-local' })) as unknown as {
      ok: boolean;
      error?: { message: string };
    };
    expect(outcome).toEqual({ ok: false, error: { name: 'Error', message: 'Unauthorized' } });
  }, 30_000);
});
