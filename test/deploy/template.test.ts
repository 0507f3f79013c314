// template.yaml is what gets deployed. These assertions pin what a careless edit could silently
// break: routes and their functions, least-privilege policies, the table the store relies on, the
// runtime, and the variables env.json overrides. The template is read the way build.mjs and the
// local gateway read it (src/local/template.ts, CloudFormation tags included).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectionKey } from '../../src/store/keys.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  createTableInput, functionsOf, loadTemplate, localRefs, parseTemplate, queuesOf, resolveEnvironment, resolveIntrinsics,
  routeSelectionExpression, routesOf, tableOf, type FunctionSpec,
} from '../../src/local/template.ts';
import { ConnectionStore } from '../../src/index.ts';
import { startDynalite, type DynaliteHandle } from '../helpers/dynalite.ts';
import { build } from '../../build.mjs';
import { repoRoot, templatePath, tempDir } from './support.ts';

const template = loadTemplate(templatePath);
const functions = functionsOf(template);
const byId = new Map(functions.map((f) => [f.logicalId, f]));

// The contract with the handlers (DESIGN.md and the lead's store): who does what.
const expectedRoutes = {
  $connect: 'ConnectFunction',
  $disconnect: 'DisconnectFunction',
  $default: 'DefaultFunction',
  join: 'JoinFunction',
  leave: 'LeaveFunction',
  send: 'SendFunction',
};
const batch = ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'];
const expectedDynamoActions: Record<string, string[]> = {
  ConnectFunction: ['dynamodb:PutItem'],
  DisconnectFunction: batch,
  JoinFunction: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:Query', ...batch],
  LeaveFunction: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', ...batch],
  SendFunction: ['dynamodb:Query', ...batch],
  DefaultFunction: batch,
  // Reads its shard (Query) and prunes what answers 410.
  FanoutFunction: ['dynamodb:Query', ...batch],
};
const posters = ['JoinFunction', 'LeaveFunction', 'SendFunction', 'DefaultFunction', 'FanoutFunction'];
// Functions that can spill a toAll/toRoom to the fan-out queue, and the worker (continuations,
// and rescheduling a shard that made no progress). The worker's ReceiveMessage/DeleteMessage come
// with SAM's SQS event (AWSLambdaSQSQueueExecutionRole, attached by SAM, not listed here).
const expectedSqsActions: Record<string, string[]> = {
  JoinFunction: ['sqs:SendMessage'],
  LeaveFunction: ['sqs:SendMessage'],
  SendFunction: ['sqs:SendMessage'],
  FanoutFunction: ['sqs:SendMessage', 'sqs:ChangeMessageVisibility'],
};
const postArn = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${Stage}/POST/@connections/*';

interface Statement { Effect: string; Action: string | string[]; Resource: unknown }
const statementsOf = (fn: FunctionSpec): Statement[] => fn.policies.flatMap((p) => {
  // Only inline statements: a managed policy or a SAM policy template (DynamoDBCrudPolicy…)
  // grants more than a function needs, and hides what it grants.
  if (p === null || typeof p !== 'object' || !Array.isArray((p as { Statement?: unknown }).Statement)) {
    throw new Error(`${fn.logicalId}: policy ${JSON.stringify(p)} is not an inline { Statement: [...] }`);
  }
  return (p as { Statement: Statement[] }).Statement;
});
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('template.yaml: routes', () => {
  it('parses CloudFormation short-form tags into their long form', () => {
    const t = parseTemplate('Resources:\n  A: { Type: X, Properties: { R: !Ref B, G: !GetAtt B.Arn, S: !Sub "${B}-x", J: !Join [",", [a, !Ref B]] } }\n');
    expect(t.Resources.A!.Properties).toEqual({
      R: { Ref: 'B' }, G: { 'Fn::GetAtt': ['B', 'Arn'] }, S: { 'Fn::Sub': '${B}-x' }, J: { 'Fn::Join': [',', ['a', { Ref: 'B' }]] },
    });
  });

  it('routes on $request.body.action', () => {
    expect(routeSelectionExpression(template)).toBe('$request.body.action');
  });

  it('has exactly the six routes, each on its own function', () => {
    expect(routesOf(template)).toEqual(expectedRoutes);
    expect(new Set(Object.values(routesOf(template))).size).toBe(6);
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

  it('routes every function but the fan-out worker (an SQS event source), and points each at dist/<name>/index.handler built from handlers/<name>.ts', () => {
    for (const fn of functions) {
      if (fn.logicalId === 'FanoutFunction') {
        expect(fn.routes).toEqual([]);
        expect(fn.sqsEvents).toHaveLength(1);
      } else {
        expect(fn.routes).toHaveLength(1);
        expect(fn.sqsEvents).toEqual([]);
      }
      const name = fn.logicalId.replace(/Function$/, '').toLowerCase();
      expect(fn.codeUri).toBe(`dist/${name}/`);
      expect(fn.handler).toBe('index.handler');
      expect(fn.entry).toBe(join(repoRoot, 'handlers', `${name}.ts`));
      expect(existsSync(fn.entry)).toBe(true);
    }
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
});

describe('template.yaml: least privilege', () => {
  it('gives each function exactly the DynamoDB actions its code path uses, on the table only', () => {
    for (const fn of functions) {
      const dynamo = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.flatMap(actionsOf).sort()).toEqual([...expectedDynamoActions[fn.logicalId]!].sort());
      for (const s of dynamo) {
        expect(s.Effect).toBe('Allow');
        expect(s.Resource).toEqual({ 'Fn::GetAtt': ['Table', 'Arn'] });
      }
    }
  });

  it('grants ManageConnections only to functions that post, only for POST on this API and stage', () => {
    for (const fn of functions) {
      const manage = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('execute-api:')));
      if (!posters.includes(fn.logicalId)) {
        // $connect must not post (the connection does not exist yet); $disconnect has no one to tell.
        expect(manage).toEqual([]);
        continue;
      }
      expect(manage).toHaveLength(1);
      expect(actionsOf(manage[0]!)).toEqual(['execute-api:ManageConnections']);
      expect(manage[0]!.Resource).toEqual({ 'Fn::Sub': postArn });
    }
  });

  it('resolves the ManageConnections ARN to this API id and stage, never a wildcard API or stage', () => {
    const refs = localRefs(template, { WebSocketApi: 'a1b2c3d4e5', Stage: 'prod' });
    expect(resolveIntrinsics({ 'Fn::Sub': postArn }, refs)).toBe('arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*');
  });

  it('grants SQS only to functions that spill or continue a fan-out, only on the fan-out queue', () => {
    for (const fn of functions) {
      const sqs = statementsOf(fn).filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
      expect(sqs.flatMap(actionsOf).sort()).toEqual([...(expectedSqsActions[fn.logicalId] ?? [])].sort());
      for (const s of sqs) expect(s.Resource).toEqual({ 'Fn::GetAtt': ['FanoutQueue', 'Arn'] });
    }
  });

  it('has no wildcard action or resource, and nothing but DynamoDB, ManageConnections and the fan-out queue', () => {
    for (const fn of functions) {
      for (const s of statementsOf(fn)) {
        for (const action of actionsOf(s)) expect(action).not.toMatch(/\*/);
        expect(s.Resource).not.toBe('*');
        expect(actionsOf(s).every((a) => a.startsWith('dynamodb:') || a.startsWith('sqs:') || a === 'execute-api:ManageConnections')).toBe(true);
      }
    }
  });
});

describe('template.yaml: the table', () => {
  const table = tableOf(template);

  it('is pay per request with the store key schema (pk/sk strings) and no indexes', () => {
    expect(table.logicalId).toBe('Table');
    expect(table.properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.properties.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    expect(table.properties.AttributeDefinitions).toEqual([{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }]);
    expect(table.properties.GlobalSecondaryIndexes).toBeUndefined();
  });

  it('reaches every function as TABLE_NAME', () => {
    for (const fn of functions) expect(fn.environment.TABLE_NAME).toEqual({ Ref: 'Table' });
  });

  describe('against the real store on dynalite', () => {
    let dynalite: DynaliteHandle;
    const tableName = 'template-table';
    beforeAll(async () => {
      dynalite = await startDynalite();
      // The table as the template defines it, not as the test helper does: a key mismatch fails here.
      await dynalite.client.send(new CreateTableCommand(createTableInput(table, tableName) as never));
      await dynalite.client.send(new DescribeTableCommand({ TableName: tableName }));
    });
    afterAll(async () => { await dynalite?.stop(); });

    it('enables TTL on the attribute the store writes, in epoch seconds within the 2 h connection limit', async () => {
      const ttl = table.ttlAttribute;
      expect(ttl).toBe('ttl');
      const store = new ConnectionStore({ tableName, client: dynalite.documentClient });
      await store.connect('ttl-probe=', { name: 'probe' });
      await store.join('ttl-probe=', 'lobby');
      const now = Math.floor(Date.now() / 1000);
      for (const Key of [connectionKey('ttl-probe='), { pk: 'room#lobby', sk: 'ttl-probe=' }]) {
        const { Item } = await dynalite.documentClient.send(new GetCommand({ TableName: tableName, Key }));
        expect(typeof Item?.[ttl!]).toBe('number');
        expect(Item![ttl!]).toBeGreaterThan(now);
        expect(Item![ttl!]).toBeLessThanOrEqual(now + 2 * 3600 + 5);
      }
    });
  });
});

describe('template.yaml: runtime and settings', () => {
  it('runs every function on nodejs24.x, arm64', () => {
    for (const fn of functions) {
      expect(fn.runtime).toBe('nodejs24.x');
      expect(fn.architectures).toEqual(['arm64']);
    }
  });

  it('keeps every route\'s timeout within API Gateway\'s 29 s integration timeout, and enables source maps', () => {
    for (const fn of functions) {
      if (fn.routes.length > 0) expect(fn.timeout).toBeLessThanOrEqual(29);
      expect(fn.memorySize).toBeGreaterThanOrEqual(128);
      expect(String(fn.environment.NODE_OPTIONS)).toContain('--enable-source-maps');
    }
  });

  it('declares every variable env.json overrides (sam local overrides declared variables only), empty by default for endpoints', () => {
    const envJson = JSON.parse(readFileSync(join(repoRoot, 'env.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys(envJson.Parameters ?? {}).length).toBeGreaterThan(0);
    for (const [scope, vars] of Object.entries(envJson)) {
      // Parameters apply to every function; a function's own scope to that function.
      const scoped = scope === 'Parameters' ? functions : [byId.get(scope)];
      expect(scoped.every(Boolean)).toBe(true);
      for (const fn of scoped) for (const name of Object.keys(vars)) expect(Object.keys(fn!.environment)).toContain(name);
    }
    for (const fn of functions) {
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

  it('runs the worker from the queue: one shard per invocation, partial batch failures, a maximum concurrency', () => {
    expect(worker.sqsEvents).toEqual([expect.objectContaining({
      queue: 'FanoutQueue', batchSize: 1, reportBatchItemFailures: true, enabled: true,
    })]);
    const concurrency = worker.sqsEvents[0]!.maximumConcurrency!;
    // Lambda's bounds for ScalingConfig.MaximumConcurrency.
    expect(concurrency).toBeGreaterThanOrEqual(2);
    expect(concurrency).toBeLessThanOrEqual(1000);
  });

  it('lets a message outlive an invocation: visibility timeout at least 6 x the worker\'s timeout, as Lambda advises', () => {
    expect(queues.get('FanoutQueue')!.properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker.timeout);
  });

  it('tells the spilling functions and the worker where the queue is, and no one else', () => {
    for (const fn of functions) {
      if (expectedSqsActions[fn.logicalId]) expect(fn.environment.FANOUT_QUEUE_URL).toEqual({ Ref: 'FanoutQueue' });
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
