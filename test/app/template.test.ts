// template.yaml is what gets deployed. These assertions pin what a careless edit could silently
// break, in a way that holds as the app grows: the framework's template rules (every route has a
// function, ManageConnections exactly where a function can post, DynamoDB only on the table, TTL
// on what the store writes), the example's own routes and least-privilege map (for the functions
// it has; a route you add is checked by the rules), the runtime, and the variables env.json
// overrides. The template is read the way `npm run build` and the local gateway read it.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  functionsOf,
  loadTemplate,
  localRefs,
  queuesOf,
  resolveEnvironment,
  resolveIntrinsics,
  routeSelectionExpression,
  routesOf,
  tableOf,
  type FunctionSpec,
} from '../../packages/gateway/src/template.ts';
import { authorizerOf, devIssuerOf } from '../../packages/gateway/src/template-auth.ts';
import { build } from '../../build.mjs';
import { repoRoot, templatePath, tempDir } from '../helpers/node.ts';
import { templateViolations, ttlViolations } from '../helpers/template-rules.ts';

const template = loadTemplate(templatePath);
const functions = functionsOf(template);
const byId = new Map(functions.map((f) => [f.logicalId, f]));

// The example chat's routes, each on its own function. Routes you add are not listed here.
const exampleRoutes = {
  $connect: 'ConnectFunction',
  $disconnect: 'DisconnectFunction',
  $default: 'DefaultFunction',
  join: 'JoinFunction',
  leave: 'LeaveFunction',
  send: 'SendFunction',
  // ws-outbox/client's session route: one function for its three actions.
  resume: 'SessionFunction',
  history: 'SessionFunction',
  ping: 'SessionFunction',
};
const batch = ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'];
// What each example function's code path uses, exactly. UpdateItem in every message route: the
// rate limit (rate#<connection>). GetItem: room checks.
const exampleDynamoActions: Record<string, string[]> = {
  AuthorizerFunction: [],
  // Query: the user's connections, for its connection cap.
  ConnectFunction: ['dynamodb:Query', 'dynamodb:PutItem'],
  // UpdateItem/DeleteItem: its session is kept for the window, or ended on an explicit close.
  DisconnectFunction: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...batch],
  // The routes a client sends to also claim each send's cid (PutItem, GetItem on a resend), mark
  // it done (UpdateItem) or release it (DeleteItem): src/sessions/acks.ts.
  JoinFunction: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...batch],
  LeaveFunction: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...batch],
  SendFunction: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...batch],
  DefaultFunction: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', ...batch],
  // Sessions: read, begin (PutItem), move (UpdateItem); the room log (Query); the old connection's rows (batch).
  SessionFunction: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', ...batch],
  // The fan-out worker reads its shard (Query) and prunes what answers 410.
  // GetItem: the ids a queue message carries are checked against the store before they are posted.
  FanoutFunction: ['dynamodb:Query', 'dynamodb:GetItem', ...batch],
};
// Functions that can spill a toAll/toRoom to the fan-out queue, and the worker (continuations,
// and rescheduling a shard that made no progress). The worker's ReceiveMessage/DeleteMessage come
// with SAM's SQS event (AWSLambdaSQSQueueExecutionRole, attached by SAM, not listed here).
const exampleSqsActions: Record<string, string[]> = {
  JoinFunction: ['sqs:SendMessage'],
  LeaveFunction: ['sqs:SendMessage'],
  SendFunction: ['sqs:SendMessage'],
  FanoutFunction: ['sqs:SendMessage', 'sqs:ChangeMessageVisibility'],
};

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
const statementsOf = (fn: FunctionSpec): Statement[] => fn.policies.flatMap((p) => (p as { Statement?: Statement[] }).Statement ?? []);
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('template.yaml: the framework rules', () => {
  it('holds every template rule (routes, ManageConnections, DynamoDB scope)', () => {
    expect(templateViolations(template)).toEqual([]);
  });

  it('puts the TTL on the attribute the store writes (the real store on dynalite)', async () => {
    expect(await ttlViolations(template)).toEqual([]);
  });
});

describe('template.yaml: routes', () => {
  it('routes on $request.body.action', () => {
    expect(routeSelectionExpression(template)).toBe('$request.body.action');
  });

  it("has the example's routes, each on its own function", () => {
    expect(routesOf(template)).toMatchObject(exampleRoutes);
    const routed = Object.values(routesOf(template)).filter((fn) => fn !== 'SessionFunction');
    expect(new Set(routed).size).toBe(routed.length);
  });

  it('uses the SAM WebSocketApi resource with a Stage parameter as its stage name', () => {
    const api = template.Resources.WebSocketApi!;
    expect(api.Type).toBe('AWS::Serverless::WebSocketApi');
    expect(api.Properties!.StageName).toEqual({ Ref: 'Stage' });
    expect(template.Parameters?.Stage?.Type).toBe('String');
  });

  it('keeps custom route keys alphanumeric (a SAM rule)', () => {
    for (const key of Object.keys(routesOf(template)).filter((k) => !k.startsWith('$'))) expect(key).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('points each function at dist/<name>/index.handler, built from its handler file', () => {
    for (const fn of functions) {
      expect(fn.codeUri).toMatch(/^dist\/[a-z0-9-]+\/$/);
      expect(fn.handler).toBe('index.handler');
      expect(fn.entryExists).toBe(true);
    }
    for (const id of [...Object.values(exampleRoutes), 'AuthorizerFunction', 'FanoutFunction']) {
      // handlers/authorize.ts is the authorizer (a verb, like the other handlers' routes).
      const name = id === 'AuthorizerFunction' ? 'authorize' : id.replace(/Function$/, '').toLowerCase();
      expect(byId.get(id)!.entry).toBe(join(repoRoot, 'handlers', `${name}.ts`));
      expect(existsSync(byId.get(id)!.entry)).toBe(true);
    }
  });
});

describe('template.yaml: auth and throttling', () => {
  it('puts the Lambda authorizer on $connect, reading the token from the query string', () => {
    expect(authorizerOf(template)).toEqual({
      kind: 'lambda',
      functionId: 'AuthorizerFunction',
      identitySources: ['route.request.querystring.token'],
      name: 'WebSocketApiAuthorizer',
    });
    expect(byId.get('AuthorizerFunction')!.entry).toBe(join(repoRoot, 'handlers', 'authorize.ts'));
    expect(byId.get('AuthorizerFunction')!.routes).toEqual([]);
  });

  it('trusts no plain-http issuer in AWS: IssuerUrl and JwksUri admit https only, and default to nothing', () => {
    for (const name of ['IssuerUrl', 'JwksUri']) {
      const parameter = template.Parameters![name]!;
      const pattern = new RegExp(String(parameter.AllowedPattern));
      expect(parameter.Default).toBe('');
      expect(pattern.test('')).toBe(true);
      expect(pattern.test('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc')).toBe(true);
      expect(pattern.test('http://127.0.0.1:3001')).toBe(false);
      expect(pattern.test('http://localhost:3001')).toBe(false);
    }
  });

  it('points only the local gateway at its development issuer, through Metadata CloudFormation ignores', () => {
    expect(devIssuerOf(template)).toEqual({ issuerParameter: 'IssuerUrl', audienceParameter: 'Audience' });
    const env = resolveEnvironment(byId.get('AuthorizerFunction')!, localRefs(template, { Table: 'T' }));
    // The template's own values (what sam deploy uses by default): no issuer URL, this stack's pool.
    expect(env).toMatchObject({
      ISSUER_URL: '',
      AUDIENCE: '',
      USER_POOL_ID: 'UserPool',
      USER_POOL_CLIENT_ID: 'UserPoolClient',
      BROADCAST_CLAIM: 'chat:broadcast',
    });
    const existing = resolveEnvironment(
      byId.get('AuthorizerFunction')!,
      localRefs(template, { Table: 'T', CreateUserPool: 'false', UserPoolId: 'eu-west-1_abc', UserPoolClientId: 'client' }),
    );
    expect(existing).toMatchObject({ USER_POOL_ID: 'eu-west-1_abc', USER_POOL_CLIENT_ID: 'client' });
  });

  it('throttles every route on the stage, send the tightest', () => {
    const api = template.Resources.WebSocketApi!.Properties!;
    const send = api.RouteSettings.send;
    expect(api.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(send.ThrottlingRateLimit);
    expect(api.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThan(send.ThrottlingBurstLimit);
    expect(send.ThrottlingRateLimit).toBeGreaterThan(0);
  });
});

describe('template.yaml: every function builds', () => {
  let outdir: string;
  let built: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    outdir = tempDir('template-build');
    built = await build({ template: templatePath, outdir });
  }, 60_000);

  it('bundles every function of the template and each bundle exports handler', () => {
    expect(built.map((b) => b.logicalId).sort()).toEqual(functions.map((f) => f.logicalId).sort());
    for (const b of built) {
      expect(b.outfile).toBe(join(outdir, byId.get(b.logicalId)!.codeUri.replace(/^dist\//, ''), 'index.mjs'));
      expect(existsSync(b.outfile)).toBe(true);
      expect(b.bytes).toBeGreaterThan(1000);
    }
  });

  it('keeps the authorizer (on the handshake path) to aws-jwt-verify and its own code: no AWS SDK, no outbox', () => {
    const authorizer = built.find((b) => b.logicalId === 'AuthorizerFunction')!;
    expect(authorizer.inputs[0]!.name).toBe('aws-jwt-verify');
    expect(authorizer.inputs.filter((i) => /^@aws-sdk|^@smithy|^@middy|^src\//.test(i.name))).toEqual([]);
    expect(authorizer.bytes).toBeLessThan(64 * 1024);
  });
});

describe('template.yaml: least privilege of the example functions', () => {
  it('gives each example function exactly the DynamoDB actions its code path uses, on the table only', () => {
    for (const [id, expected] of Object.entries(exampleDynamoActions)) {
      const dynamo = statementsOf(byId.get(id)!).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect({ id, actions: dynamo.flatMap(actionsOf).sort() }).toEqual({ id, actions: [...expected].sort() });
      for (const s of dynamo) expect(s.Resource).toEqual({ 'Fn::GetAtt': ['Table', 'Arn'] });
    }
  });

  it('grants SQS only to functions that spill or continue a fan-out, only on the fan-out queue', () => {
    for (const fn of functions) {
      const sqs = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
      expect({ id: fn.logicalId, actions: sqs.flatMap(actionsOf).sort() }).toEqual({
        id: fn.logicalId,
        actions: [...(exampleSqsActions[fn.logicalId] ?? [])].sort(),
      });
      for (const s of sqs) expect(s.Resource).toEqual({ 'Fn::GetAtt': ['FanoutQueue', 'Arn'] });
    }
  });

  it('grants $connect and the authorizer no ManageConnections ($connect: the connection does not exist yet; the authorizer only verifies)', () => {
    for (const id of ['ConnectFunction', 'AuthorizerFunction']) {
      expect(statementsOf(byId.get(id)!).filter((s) => actionsOf(s).some((a) => a.startsWith('execute-api:')))).toEqual([]);
    }
  });
});

describe('template.yaml: the table', () => {
  const table = tableOf(template);

  it('is pay per request with the store key schema (pk/sk strings) and no indexes', () => {
    expect(table.logicalId).toBe('Table');
    expect(table.properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.properties.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
    expect(table.properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('reaches every function as TABLE_NAME', () => {
    for (const fn of functions) expect(fn.environment.TABLE_NAME).toEqual({ Ref: 'Table' });
  });
});

describe('template.yaml: runtime and settings', () => {
  it('runs every function on nodejs24.x, arm64', () => {
    for (const fn of functions) {
      expect(fn.runtime).toBe('nodejs24.x');
      expect(fn.architectures).toEqual(['arm64']);
    }
  });

  it("keeps every route's timeout within API Gateway's 29 s integration timeout, and enables source maps", () => {
    for (const fn of functions) {
      // The fan-out worker is no integration (an SQS event source): its timeout is its own.
      if (fn.routes.length > 0) expect(fn.timeout).toBeLessThanOrEqual(29);
      expect(fn.memorySize).toBeGreaterThanOrEqual(128);
      expect(String(fn.environment.NODE_OPTIONS)).toContain('--enable-source-maps');
    }
  });

  it('declares every variable env.json overrides (sam local overrides declared variables only), empty by default for endpoints', () => {
    const envJson = JSON.parse(readFileSync(join(repoRoot, 'env.json'), 'utf8')) as Record<string, Record<string, string>>;
    // `Parameters` applies to every function; a function's own section only to it.
    for (const scope of Object.keys(envJson)) if (scope !== 'Parameters') expect(byId.has(scope)).toBe(true);
    expect(Object.keys(envJson.Parameters ?? {}).length).toBeGreaterThan(0);
    for (const fn of functions) {
      const overrides = [...Object.keys(envJson.Parameters ?? {}), ...Object.keys(envJson[fn.logicalId] ?? {})];
      for (const name of overrides) expect(Object.keys(fn.environment)).toContain(name);
      expect(fn.environment.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI).toBe('');
      expect(fn.environment.AWS_ENDPOINT_URL_DYNAMODB).toBe('');
      expect(fn.environment.AWS_ENDPOINT_URL_SQS).toBe('');
    }
    // Docker's route to the host, where `npm run dev` serves the gateway and DynamoDB.
    expect(envJson.Parameters!.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI).toMatch(/^http:\/\/host\.docker\.internal:\d+/);
    expect(envJson.Parameters!.AWS_ENDPOINT_URL_DYNAMODB).toMatch(/^http:\/\/host\.docker\.internal:\d+$/);
  });

  it('resolves each environment to strings, as Lambda sees it', () => {
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/ws-outbox-FanoutQueue-X';
    const env = resolveEnvironment(byId.get('SendFunction')!, localRefs(template, { Table: 'ws-outbox-local', FanoutQueue: queueUrl }));
    expect(env).toMatchObject({ TABLE_NAME: 'ws-outbox-local', NODE_OPTIONS: '--enable-source-maps', OUTBOX_LOG_LEVEL: 'info', FANOUT_QUEUE_URL: queueUrl });
  });
});

describe('template.yaml: the fan-out queue and its worker', () => {
  const queues = new Map(queuesOf(template).map((q) => [q.logicalId, q]));
  const worker = byId.get('FanoutFunction')!;

  it('has a fan-out queue that redrives to a dead-letter queue after a few receives', () => {
    expect([...queues.keys()].sort()).toEqual(['FanoutDeadLetterQueue', 'FanoutQueue']);
    const queue = queues.get('FanoutQueue')!;
    expect(queue.deadLetterQueue).toBe('FanoutDeadLetterQueue');
    expect(queue.maxReceiveCount).toBeGreaterThanOrEqual(2);
    expect(queue.maxReceiveCount).toBeLessThanOrEqual(10);
    // The dead-letter queue keeps a message longer than the source queue (standard queues keep
    // a message's first enqueue time when it moves).
    expect(queues.get('FanoutDeadLetterQueue')!.properties.MessageRetentionPeriod).toBeGreaterThan(queue.properties.MessageRetentionPeriod);
  });

  it('runs the worker from the queue, on no route: one shard per invocation, partial batch failures, a maximum concurrency', () => {
    expect(worker.routes).toEqual([]);
    expect(worker.sqsEvents).toEqual([
      expect.objectContaining({
        queue: 'FanoutQueue',
        batchSize: 1,
        reportBatchItemFailures: true,
        enabled: true,
      }),
    ]);
    for (const fn of functions) if (fn !== worker) expect(fn.sqsEvents).toEqual([]);
    const concurrency = worker.sqsEvents[0]!.maximumConcurrency!;
    // Lambda's bounds for ScalingConfig.MaximumConcurrency.
    expect(concurrency).toBeGreaterThanOrEqual(2);
    expect(concurrency).toBeLessThanOrEqual(1000);
  });

  it("lets a message outlive an invocation: visibility timeout at least 6 x the worker's timeout, as Lambda advises", () => {
    expect(queues.get('FanoutQueue')!.properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker.timeout);
  });

  it('tells the spilling functions and the worker where the queue is, and no one else', () => {
    for (const fn of functions) {
      if (exampleSqsActions[fn.logicalId]) expect(fn.environment.FANOUT_QUEUE_URL).toEqual({ Ref: 'FanoutQueue' });
      else expect(fn.environment.FANOUT_QUEUE_URL).toBeUndefined();
    }
  });
});

describe('template.yaml: outputs', () => {
  const refs = localRefs(template, { WebSocketApi: 'a1b2c3d4e5', Table: 'ws-outbox-Table-1ABC', Stage: 'dev' });
  const output = (name: string) => resolveIntrinsics(template.Outputs?.[name]?.Value, refs);

  it('gives the wss:// URL, the https:// management endpoint and the table name', () => {
    expect(output('WebSocketUrl')).toBe('wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev');
    expect(output('ManagementEndpoint')).toBe('https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev');
    expect(output('TableName')).toBe('ws-outbox-Table-1ABC');
  });
});
