// What a route of the WebSocket API invokes when it is not a Lambda proxy integration. Each target
// answers like a function pool (name, invoke → outcome), so the WebSocket API serves them alike:
//   - a Lambda custom integration (IntegrationType AWS, RequestTemplates): the selected template,
//     rendered for the message, is the event the function gets;
//   - an SQS service integration (`arn:aws:apigateway:<region>:sqs:path/<account>/<queue>`): the
//     rendered template is SendMessage's form (Action=SendMessage&MessageBody=…&MessageGroupId=…
//     &MessageAttribute.1.Name=…), sent to the local queue;
//   - a DynamoDB service integration (`arn:aws:apigateway:<region>:dynamodb:action/<Action>`):
//     dynamodb-integration.ts;
//   - a route the gateway cannot serve: it fails as a failed integration does, and says why.
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionPool, InvokeOutcome } from './function-pool.ts';
import { renderTemplate, selectTemplate, type TemplateInput } from './mapping-template.ts';
import type { RouteIntegration } from './template.ts';
import { dynamodbActionOf, type AppModel } from './app-model.ts';
import { dynamodbTarget, type DynamoIntegrationOptions } from './dynamodb-integration.ts';

/** What the WebSocket API invokes for a route; `twoWay`: a route response sends the result's `body` back to the client. */
export type RouteTarget = Pick<FunctionPool, 'name' | 'invoke'> & { twoWay?: boolean };

type MessageEvent = TemplateInput & { requestContext: { requestId?: string } };

const failed = (started: number, errorType: string, errorMessage: string): InvokeOutcome => ({
  status: 'error',
  requestId: randomUUID(),
  error: { errorType, errorMessage },
  durationMs: performance.now() - started,
});

/** A Lambda custom integration: the function gets the rendered template (or, with no template, the message body). */
export const templatedLambdaTarget = (pool: RouteTarget, integration: RouteIntegration, stageVariables: Record<string, string>): RouteTarget => ({
  name: pool.name,
  invoke: async (event, meta) => {
    const started = performance.now();
    const message = event as MessageEvent;
    const template = selectTemplate(integration.requestTemplates, integration.templateSelectionExpression, message.body ?? '');
    if (template === undefined) {
      if (integration.passthroughBehavior === 'NEVER')
        return failed(started, 'UnsupportedMediaType', 'no request template matches and PassthroughBehavior is NEVER');
      return pool.invoke(safeJson(message.body ?? ''), meta);
    }
    let rendered: string;
    try {
      rendered = renderTemplate(template, { ...message, stageVariables });
    } catch (error) {
      return failed(started, 'MappingTemplateError', (error as Error).message);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(rendered);
    } catch (error) {
      return failed(started, 'MappingTemplateError', `the rendered request template is not JSON (${(error as Error).message}): ${rendered.slice(0, 200)}`);
    }
    return pool.invoke(payload, meta);
  },
});

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** SendMessage's form (query protocol) as a SendMessage input. */
export const sendMessageInput = (form: string, queueUrl: string): ConstructorParameters<typeof SendMessageCommand>[0] => {
  const params = new URLSearchParams(form);
  const action = params.get('Action');
  if (action !== 'SendMessage') throw new Error(`the SQS integration's template sends Action=${action ?? '(none)'}; only SendMessage is emulated`);
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [key, name] of params) {
    const n = /^MessageAttribute\.(\d+)\.Name$/.exec(key)?.[1];
    if (n === undefined) continue;
    const value = (field: string) => params.get(`MessageAttribute.${n}.Value.${field}`) ?? undefined;
    attributes[name] = {
      DataType: value('DataType') ?? 'String',
      StringValue: value('StringValue'),
      ...(value('BinaryValue') ? { BinaryValue: Buffer.from(value('BinaryValue')!, 'base64') } : {}),
    };
  }
  const optional = (name: string) => (params.get(name) === null || params.get(name) === '' ? undefined : params.get(name)!);
  return {
    QueueUrl: queueUrl,
    MessageBody: params.get('MessageBody') ?? '',
    MessageGroupId: optional('MessageGroupId'),
    MessageDeduplicationId: optional('MessageDeduplicationId'),
    DelaySeconds: optional('DelaySeconds') === undefined ? undefined : Number(params.get('DelaySeconds')),
    MessageAttributes: Object.keys(attributes).length > 0 ? attributes : undefined,
  };
};

/** An SQS service integration: the rendered template is sent to the local queue. */
export const sqsTarget = (
  integration: RouteIntegration,
  queue: { name: string; url: string },
  client: SQSClient,
  stageVariables: Record<string, string>,
): RouteTarget => ({
  name: `SQS ${queue.name}`,
  invoke: async (event) => {
    const started = performance.now();
    const message = event as MessageEvent;
    const template = selectTemplate(integration.requestTemplates, integration.templateSelectionExpression, message.body ?? '');
    if (template === undefined) return failed(started, 'UnsupportedMediaType', `no request template of ${integration.integrationId} matches the message`);
    try {
      const input = sendMessageInput(renderTemplate(template, { ...message, stageVariables }), queue.url);
      const sent = await client.send(new SendMessageCommand(input));
      return {
        status: 'ok',
        requestId: message.requestContext.requestId ?? randomUUID(),
        result: { statusCode: 200, body: JSON.stringify({ MessageId: sent.MessageId }) },
        durationMs: performance.now() - started,
      };
    } catch (error) {
      const e = error as Error;
      return failed(started, e.name || 'SqsError', e.message);
    }
  },
});

/** A route the gateway cannot serve: every message fails as a failed integration does. */
export const unavailableTarget = (route: string, why: string): RouteTarget => ({
  name: `(${route}: not emulated)`,
  invoke: async () => failed(performance.now(), 'Local.NotEmulated', `route ${route}: ${why}`),
});

/**
 * Every route of the model with its target: the function pools of Lambda proxy routes, then the
 * emulated integrations, then the routes that cannot be served. `queues` and `client` are the
 * local SQS's, when the template has queues; `dynamodb` the embedded DynamoDB.
 */
export const routeTargetsFor = (
  model: Pick<AppModel, 'routes' | 'integrations' | 'unavailableRoutes' | 'stageVariables' | 'template' | 'refs'> & Partial<Pick<AppModel, 'twoWayRoutes'>>,
  pools: Map<string, RouteTarget>,
  sqs?: { queues: Map<string, { name: string; url: string }>; client(): SQSClient },
  dynamodb?: DynamoIntegrationOptions,
): Map<string, RouteTarget> => {
  const targets = new Map<string, RouteTarget>(
    [...model.routes].map(([key, id]) => {
      const pool = pools.get(id)!;
      return [key, model.twoWayRoutes?.has(key) ? { name: pool.name, invoke: (event, meta) => pool.invoke(event, meta), twoWay: true } : pool];
    }),
  );
  for (const [key, integration] of model.integrations) {
    const pool = integration.functionId === undefined ? undefined : pools.get(integration.functionId);
    if (pool) {
      targets.set(key, templatedLambdaTarget(pool, integration, model.stageVariables));
      continue;
    }
    if (dynamodbActionOf(integration.uri) !== undefined) {
      targets.set(key, dynamodb ? dynamodbTarget(integration, model, dynamodb) : unavailableTarget(key, 'the embedded DynamoDB is not running'));
      continue;
    }
    const name = /:sqs:path\/[^/]+\/([^/]+)$/.exec(integration.uri ?? '')?.[1]?.replace(/\.QueueName$/, '');
    const queue = name === undefined ? undefined : (sqs?.queues.get(name) ?? [...(sqs?.queues.values() ?? [])].find((q) => q.name === name));
    targets.set(
      key,
      queue && sqs ? sqsTarget(integration, queue, sqs.client(), model.stageVariables) : unavailableTarget(key, `queue ${name} is not in the local SQS`),
    );
  }
  for (const [key, why] of model.unavailableRoutes) targets.set(key, unavailableTarget(key, why));
  return targets;
};
