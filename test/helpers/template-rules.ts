// Rules every ws-outbox SAM template must keep, whatever its routes: each returns what breaks it
// (an empty list when it holds), so a test can show both that a template passes and that a broken
// one is caught. test/framework runs them on a fixture template with routes of its own; test/app
// runs them on the example app's template.yaml, so they keep holding as routes are added.
//
// - every route has a function, and every function its handler file;
// - a function that can post (it serves a message route, where the outbox sends at least the
//   error reply, or its handler file posts, or it is a fan-out worker) has execute-api:ManageConnections for POST on its own
//   API and stage (and DELETE if it disconnects clients); no other function has it;
// - DynamoDB actions only on the app's table, no wildcard action or resource, inline statements
//   only where DynamoDB or execute-api is concerned (a SAM policy template or a managed policy
//   would hide what it grants);
// - the table's TTL is on the attribute the store writes (checked against the real store:
//   ttlViolations).
import { readFileSync } from 'node:fs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { localCredentials, startDynamo } from '../../packages/gateway/src/dynamodb.ts';
import {
  createTableInput,
  functionsOf,
  localRefs,
  resolveIntrinsics,
  routesOf,
  tableOf,
  type FunctionSpec,
  type Template,
} from '../../packages/gateway/src/template.ts';
import { ConnectionStore } from '../../src/store/connection-store.ts';

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

const actionsOf = (s: Statement): string[] => (s.Action === undefined ? [] : Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The WebSocket API's logical id and the stage its StageName gives (a parameter's Ref or a literal). */
const apiOf = (template: Template): { id: string; stageRef?: string; stage: string } => {
  const [id, api] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::Serverless::WebSocketApi') ?? [];
  if (!id || !api) throw new Error('the template has no AWS::Serverless::WebSocketApi');
  const stageName = api.Properties?.StageName;
  if (stageName && typeof stageName === 'object' && typeof stageName.Ref === 'string') return { id, stageRef: stageName.Ref, stage: 'STAGE' };
  return { id, stage: String(stageName) };
};

/** Local stand-ins for the names policies refer to: the API as API_ID, its stage as STAGE (when a parameter), the table as TABLE / TABLE_ARN. */
const refsFor = (template: Template): Record<string, string> => {
  const api = apiOf(template);
  const table = tableOf(template).logicalId;
  // Queues (a fan-out queue, say) as QUEUE_URL:<id> / QUEUE_ARN:<id>: not the table, whatever their statements grant.
  const queues = Object.entries(template.Resources)
    .filter(([, r]) => r?.Type === 'AWS::SQS::Queue')
    .flatMap(([id]) => [
      [id, `QUEUE_URL:${id}`],
      [`${id}.Arn`, `QUEUE_ARN:${id}`],
      [`${id}.QueueName`, id],
    ]);
  return localRefs(template, {
    ...Object.fromEntries(queues),
    [api.id]: 'API_ID',
    ...(api.stageRef ? { [api.stageRef]: 'STAGE' } : {}),
    [table]: 'TABLE',
    [`${table}.Arn`]: 'TABLE_ARN',
  });
};

/** Statements of a function, and a violation for each policy that is not an inline { Statement: [...] } that the rules can read. */
const statementsOf = (fn: FunctionSpec, violations: string[]): Statement[] =>
  fn.policies.flatMap((p) => {
    if (p !== null && typeof p === 'object' && Array.isArray((p as { Statement?: unknown }).Statement)) {
      return (p as { Statement: Statement[] }).Statement.filter((s) => s.Effect === 'Allow');
    }
    const text = JSON.stringify(p);
    if (typeof p === 'string' || /DynamoDB|execute-api|ApiGateway/i.test(text)) {
      violations.push(`${fn.logicalId}: policy ${text} is not an inline { Statement: [...] }, so what it grants cannot be checked`);
    }
    return [];
  });

/** What a function's handler file does with connections: posts (outbox sends, PostToConnection) and disconnects. */
const sourceOf = (fn: FunctionSpec): { posts: boolean; disconnects: boolean } => {
  const text = fn.entryExists ? readFileSync(fn.entry, 'utf8') : '';
  return {
    // A fan-out worker (fanoutHandler) delivers spilled broadcasts.
    posts: /\boutbox\.(send|reply|broadcast|toRoom|toAll)\(|PostToConnection|\bfanoutHandler\(/.test(text),
    // The session route (sessionHandler) closes the socket a resume moved its session away from.
    disconnects: /\boutbox\.disconnect\(|DeleteConnection|\bsessionHandler\(/.test(text),
  };
};

/** Every route has a function of the template (the template reader refuses one that does not), and every function its handler file. */
export const routeViolations = (template: Template): string[] => {
  let functions: FunctionSpec[];
  try {
    routesOf(template);
    functions = functionsOf(template);
  } catch (error) {
    return [(error as Error).message];
  }
  return functions.filter((fn) => !fn.entryExists).map((fn) => `${fn.logicalId}: no handler file (looked for ${fn.entryCandidates.join(', ')})`);
};

/** ManageConnections on exactly the functions that can post, for POST and GET (a 410 is confirmed) (and DELETE if they disconnect) on this API and stage only. */
export const manageConnectionsViolations = (template: Template): string[] => {
  const api = apiOf(template);
  const refs = refsFor(template);
  const arn = (method: string) => new RegExp(`^arn:[^:]+:execute-api:[^:]+:[^:]+:API_ID/${api.stage}/${method}/@connections/\\*$`);
  const violations: string[] = [];
  for (const fn of functionsOf(template)) {
    const source = sourceOf(fn);
    const messageRoutes = fn.routes.filter((r) => r !== '$connect' && r !== '$disconnect');
    const canPost = messageRoutes.length > 0 || source.posts;
    const manage = statementsOf(fn, violations).filter((s) => actionsOf(s).some((a) => a.startsWith('execute-api:')));
    if (!canPost && !source.disconnects) {
      if (manage.length > 0) violations.push(`${fn.logicalId} cannot post (routes: ${fn.routes.join(', ') || 'none'}) but has execute-api permissions`);
      continue;
    }
    for (const s of manage) {
      if (actionsOf(s).some((a) => a !== 'execute-api:ManageConnections'))
        violations.push(`${fn.logicalId}: execute-api actions other than ManageConnections: ${actionsOf(s).join(', ')}`);
    }
    const resources = manage.flatMap(resourcesOf).map((r) => String(resolveIntrinsics(r, refs)));
    const why = messageRoutes.length > 0 ? `serves ${messageRoutes.join(', ')}` : 'posts from its handler';
    if (canPost && !resources.some((r) => arn('POST').test(r))) {
      violations.push(`${fn.logicalId} ${why} but has no execute-api:ManageConnections on ${api.id}'s stage for POST/@connections/*`);
    }
    if (source.disconnects && !resources.some((r) => arn('DELETE').test(r))) {
      violations.push(`${fn.logicalId} disconnects clients but has no execute-api:ManageConnections on ${api.id}'s stage for DELETE/@connections/*`);
    }
    for (const r of resources) {
      const allowed = arn(canPost ? 'POST' : 'DELETE').test(r) || (canPost && arn('GET').test(r)) || (source.disconnects && arn('DELETE').test(r));
      if (!allowed) violations.push(`${fn.logicalId}: ManageConnections on ${r}, which is not its API and stage (or a method it does not use)`);
    }
  }
  return violations;
};

/** DynamoDB actions only on the template's table (and its indexes); no wildcard action or resource anywhere. */
export const dynamoViolations = (template: Template): string[] => {
  const table = tableOf(template).logicalId;
  const refs = refsFor(template);
  const violations: string[] = [];
  for (const fn of functionsOf(template)) {
    for (const s of statementsOf(fn, violations)) {
      const actions = actionsOf(s);
      for (const a of actions.filter((x) => x.includes('*'))) violations.push(`${fn.logicalId}: wildcard action ${a}`);
      const resources = resourcesOf(s).map((r) => String(resolveIntrinsics(r, refs)));
      if (resources.includes('*')) violations.push(`${fn.logicalId}: wildcard resource for ${actions.join(', ')}`);
      if (!actions.some((a) => a.startsWith('dynamodb:'))) continue;
      for (const r of resources) {
        if (r !== 'TABLE_ARN' && !r.startsWith('TABLE_ARN/index/')) violations.push(`${fn.logicalId}: DynamoDB actions on ${r}, not on ${table}`);
      }
    }
  }
  return violations;
};

/** All the rules that need only the template. */
export const templateViolations = (template: Template): string[] => {
  const routes = routeViolations(template);
  // The other rules read the routes too: report a broken route alone.
  return routes.length > 0 ? routes : [...manageConnectionsViolations(template), ...dynamoViolations(template)];
};

/**
 * The store against the template's table, on a real dynalite: the table is created from the
 * template (a key schema the store cannot use fails here), a connection and a membership are
 * written through ConnectionStore, and the TTL attribute must be on both, as epoch seconds within
 * API Gateway's 2 h connection limit. Resolves with what breaks the rule.
 */
export const ttlViolations = async (template: Template): Promise<string[]> => {
  const table = tableOf(template);
  if (!table.ttlAttribute) return [`${table.logicalId}: no TimeToLiveSpecification enabled; the store's rows would never expire`];
  const dynamo = await startDynamo({ port: 0 });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: localCredentials });
  try {
    await client.send(new CreateTableCommand(createTableInput(table, 'rules') as never));
    const documentClient = DynamoDBDocumentClient.from(client);
    const store = new ConnectionStore({ tableName: 'rules', client: documentClient });
    await store.connect('ttl-probe=', { name: 'probe' });
    await store.join('ttl-probe=', 'lobby');
    const now = Math.floor(Date.now() / 1000);
    const { Items = [] } = await documentClient.send(new ScanCommand({ TableName: 'rules' }));
    if (Items.length === 0) return ['the store wrote nothing to the table'];
    return Items.flatMap((item) => {
      const value = item[table.ttlAttribute!];
      return typeof value === 'number' && value > now && value <= now + 2 * 3600 + 5
        ? []
        : [
            `${table.logicalId}: TTL is on "${table.ttlAttribute}", but the store's item ${JSON.stringify({ pk: item.pk, sk: item.sk })} has ${JSON.stringify(value)} there`,
          ];
    });
  } finally {
    client.destroy();
    await dynamo.stop();
  }
};
