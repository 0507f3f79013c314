// What the local gateway needs to know about a SAM template: the WebSocket API's routes, route
// selection expression and stage, each function's runtime settings and resolved environment, and
// the DynamoDB tables to create. The template is read by packages/gateway/src/template.ts (the same reader
// build.mjs uses); this module only resolves it to local values, so everything downstream (pool,
// gateway, invoke) works from plain data, never from YAML.
import { partition } from '@aws-sdk/core/client';
import {
  createTableInput,
  functionsOf,
  loadTemplate,
  localRefs,
  queuesOf,
  resolveEnvironment,
  resolveIntrinsics,
  routeSelectionExpression,
  stageOf,
  tablesOf,
  type FunctionSpec,
  type QueueSpec,
  type Template,
} from './template.ts';
import { authorizerOf, type AuthorizerSpec } from './template-auth.ts';
import { integrationsOf, layerNoticesOf, skippedFunctionsOf, type RouteIntegration } from './template.ts';
import { unsupportedDirectives } from './mapping-template.ts';

export interface FunctionModel {
  logicalId: string;
  functionName: string;
  /** `index.handler` → module `index`, export `handler`. */
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Template environment with intrinsics resolved to local values. */
  environment: Record<string, string>;
  spec: FunctionSpec;
}

export interface TableModel {
  logicalId: string;
  tableName: string;
  /** A CreateTable input: keys, attributes, billing mode, indexes. */
  definition: Record<string, unknown>;
  ttlAttribute?: string;
}

export interface AppModel {
  templatePath: string;
  template: Template;
  routeSelectionExpression: string;
  /** Route key → function logical id. */
  routes: Map<string, string>;
  functions: Map<string, FunctionModel>;
  tables: TableModel[];
  /** The $connect authorizer, when the API has one. */
  authorizer?: AuthorizerSpec;
  /** The API stage's variables (StageVariables), resolved; identity sources may name them. */
  stageVariables: Record<string, string>;
  /** The stage the gateway serves (see stageFor). */
  stage: string;
  /** Every name the template can refer to, resolved to its local value (for policies, outputs). */
  refs: Record<string, string>;
  options: ModelOptions;
  /** The template's SQS queues (created in the local SQS by the gateway). */
  queues: QueueSpec[];
  /**
   * Routes whose integration is not a Lambda proxy but is emulated: a Lambda custom integration
   * (its RequestTemplates make the event), an SQS service integration (they make the SendMessage)
   * or a DynamoDB one (they make the action's request).
   */
  integrations: Map<string, RouteIntegration>;
  /** Lambda proxy routes with a route response (two-way): the function's `body` goes back to the client. */
  twoWayRoutes: Set<string>;
  /** Routes the template has but the gateway cannot serve (route → why): they answer as an integration failure does. */
  unavailableRoutes: Map<string, string>;
  /** One line per template feature the gateway skips or only partly emulates, naming it and what will not work locally. */
  notices: string[];
}

/** A queue as functions see it: what `!Ref`, `!GetAtt .Arn` and `!GetAtt .QueueName` resolve to. */
export interface QueueRef {
  name: string;
  url: string;
  arn: string;
}

export interface ModelOptions {
  region: string;
  accountId: string;
  apiId: string;
  /** The stage to serve; undefined: the template's (see stageFor). */
  stage: string | undefined;
  /** Template parameter overrides (like `sam --parameter-overrides`). */
  parameters: Record<string, string>;
  /** The queues as the local SQS created them, by logical id (else URLs of the default local SQS port). */
  queues?: Map<string, QueueRef>;
}

export const modelDefaults: ModelOptions = {
  region: 'us-east-1',
  accountId: '123456789012',
  apiId: 'localapi01',
  stage: undefined,
  parameters: {},
};

/** The stage served when neither the options nor the template fix one. */
export const defaultStage = 'local';

const hasApi = (template: Template): boolean =>
  Object.values(template.Resources).some((r) => r?.Type === 'AWS::Serverless::WebSocketApi' || r?.Type === 'AWS::ApiGatewayV2::Api');

/**
 * The stage, and the parameter that names it. An explicit stage wins (and sets that parameter, so
 * policies scoped to `${Stage}` match it); then a literal StageName, or a parameter the caller
 * overrode; a parameter left at its default gives `local`, a stage every template can share.
 */
const stageFor = (template: Template, opts: ModelOptions): { stage: string; parameter?: string } => {
  const written = hasApi(template) ? stageOf(template) : undefined;
  const parameter =
    written !== null && typeof written === 'object' && typeof (written as { Ref?: unknown }).Ref === 'string' ? (written as { Ref: string }).Ref : undefined;
  if (opts.stage !== undefined) return { stage: opts.stage, parameter };
  if (typeof written === 'string' && written !== '') return { stage: written };
  if (parameter !== undefined && opts.parameters[parameter] !== undefined) return { stage: opts.parameters[parameter]!, parameter };
  return { stage: defaultStage, parameter };
};

/**
 * The local value of every name a template can refer to: parameters (defaults, then overrides),
 * tables by their local names (TableName resolved, else the logical id), functions by their
 * logical ids, the API by the local api id, ARNs shaped like the real ones.
 */
/** A queue as it is named in AWS: functions reach that URL unmodified (the gateway's egress hook serves its host locally). */
export const queueRefFor = (name: string, region: string, accountId: string): QueueRef => ({
  name,
  url: `https://sqs.${region}.${partition(region).dnsSuffix}/${accountId}/${name}`,
  arn: `arn:aws:sqs:${region}:${accountId}:${name}`,
});

const refsFor = (
  template: Template,
  opts: ModelOptions,
  stage: { stage: string; parameter?: string },
  tableNames: Map<string, string>,
): Record<string, string> => {
  const { region, accountId } = opts;
  const overrides: Record<string, string> = {
    'AWS::Region': region,
    'AWS::AccountId': accountId,
    ...opts.parameters,
    ...(stage.parameter ? { [stage.parameter]: stage.stage } : {}),
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r?.Type === 'AWS::DynamoDB::Table' || r?.Type === 'AWS::Serverless::SimpleTable') {
      const name = tableNames.get(id)!;
      overrides[id] = name;
      overrides[`${id}.Arn`] = `arn:aws:dynamodb:${region}:${accountId}:table/${name}`;
      overrides[`${id}.StreamArn`] = `arn:aws:dynamodb:${region}:${accountId}:table/${name}/stream/local`;
    } else if (r?.Type === 'AWS::Serverless::Function' || r?.Type === 'AWS::Lambda::Function') {
      overrides[id] = id;
      overrides[`${id}.Arn`] = `arn:aws:lambda:${region}:${accountId}:function:${id}`;
    } else if (r?.Type === 'AWS::SQS::Queue') {
      const name = typeof r.Properties?.QueueName === 'string' ? r.Properties.QueueName : id;
      const queue = opts.queues?.get(id) ?? queueRefFor(name, region, accountId);
      overrides[id] = queue.url;
      overrides[`${id}.Arn`] = queue.arn;
      overrides[`${id}.QueueName`] = queue.name;
    } else if (r?.Type === 'AWS::Serverless::WebSocketApi' || r?.Type === 'AWS::ApiGatewayV2::Api') {
      overrides[id] = opts.apiId;
      overrides[`${id}.ApiId`] = opts.apiId;
      overrides[`${id}.ApiEndpoint`] = `wss://${opts.apiId}.execute-api.${region}.amazonaws.com`;
    } else if (r?.Type === 'AWS::IAM::Role') {
      overrides[id] = id;
      overrides[`${id}.Arn`] = `arn:aws:iam::${accountId}:role/${id}`;
    }
  }
  return localRefs(template, overrides);
};

/** Each table's local name: its TableName (resolved: `!Ref TableNameParameter` is common), else its logical id. */
const tableNamesOf = (template: Template, opts: ModelOptions): Map<string, string> => {
  const refs = localRefs(template, { 'AWS::Region': opts.region, 'AWS::AccountId': opts.accountId, ...opts.parameters });
  return new Map(
    tablesOf(template).map((t) => {
      const written = t.properties.TableName;
      const name = written === undefined ? t.logicalId : String(resolveIntrinsics(written, refs, `${t.logicalId}.TableName`));
      return [t.logicalId, name];
    }),
  );
};

// Event sources the gateway serves: the WebSocket API's routes and SQS queues. Anything else that
// would invoke a function on AWS (an HTTP or REST API, a schedule, S3, a stream) is named once.
const servedEvents = new Set(['SQS']);

const otherEntryPoints = (template: Template): string[] => {
  const lines: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (
      r?.Type === 'AWS::Serverless::HttpApi' ||
      r?.Type === 'AWS::Serverless::Api' ||
      r?.Type === 'AWS::ApiGateway::RestApi' ||
      (r?.Type === 'AWS::ApiGatewayV2::Api' && r.Properties?.ProtocolType === 'HTTP')
    ) {
      lines.push(`${id} (${r.Type}) is not served: the local gateway serves the WebSocket API only`);
    }
    if (r?.Type !== 'AWS::Serverless::Function' || r.Properties?.PackageType === 'Image') continue;
    const events = r.Properties?.Events;
    if (events === null || typeof events !== 'object') continue;
    for (const [name, event] of Object.entries<any>(events)) {
      if (servedEvents.has(event?.Type)) continue;
      const where = event?.Properties?.Path ? ` ${event.Properties.Method ?? 'ANY'} ${event.Properties.Path}` : '';
      lines.push(`${id}.Events.${name} (${event?.Type}${where}) does not invoke ${id} locally: the gateway serves WebSocket routes and SQS event sources only`);
    }
  }
  return lines;
};

/**
 * The routes the gateway serves and how: Lambda proxy routes to functions it runs, emulated
 * integrations (Lambda custom with RequestTemplates, SQS SendMessage), and a notice for each
 * route, function or integration it cannot run, so nothing outside the model stops it.
 */
const wiringOf = (template: Template, functions: Map<string, FunctionModel>, refs: Record<string, string>) => {
  const notices = [...skippedFunctionsOf(template).map((s) => s.why), ...layerNoticesOf(template), ...otherEntryPoints(template)];
  const routes = new Map<string, string>();
  const integrations = new Map<string, RouteIntegration>();
  const unavailableRoutes = new Map<string, string>();
  const twoWayRoutes = new Set<string>();
  if (!hasApi(template)) return { routes, integrations, notices, unavailableRoutes, twoWayRoutes };
  const sqsQueues = new Set(queuesOf(template).map((q) => q.logicalId));
  for (const integration of integrationsOf(template)) {
    const { routeKey: key, functionId } = integration;
    const where = integration.integrationId ?? key;
    const unresolved = resolveTemplates(integration, refs);
    if (unresolved !== undefined) {
      notices.push(`route ${key} (${where}): ${unresolved}: messages to ${key} get an internal error locally`);
      unavailableRoutes.set(key, unresolved);
    } else if (functionId !== undefined && !functions.has(functionId)) {
      notices.push(`route ${key} → ${functionId}, which the gateway does not run (above): messages to ${key} get an internal error`);
      unavailableRoutes.set(key, `${functionId} does not run locally`);
    } else if (functionId !== undefined && integration.type === 'AWS_PROXY') {
      routes.set(key, functionId);
      if (integration.routeResponse && key !== '$connect' && key !== '$disconnect') twoWayRoutes.add(key);
    } else if (functionId !== undefined) {
      const directives = Object.values(integration.requestTemplates).flatMap(unsupportedDirectives);
      notices.push(
        `route ${key} → ${functionId} is a Lambda custom integration (${where}): the event is its RequestTemplates rendered locally` +
          `${directives.length ? ` without their ${[...new Set(directives)].join(', ')} directives, which are left as written` : ''}; route responses are not sent back`,
      );
      integrations.set(key, integration);
    } else if (integration.type === 'AWS' && dynamodbActionOf(integration.uri) !== undefined) {
      const directives = [...new Set(Object.values(integration.requestTemplates).flatMap(unsupportedDirectives))];
      if (directives.length > 0) {
        notices.push(
          `route ${key} (${where}) is a DynamoDB integration whose request templates use ${directives.join(', ')}, which are left as written locally`,
        );
      }
      integrations.set(key, integration);
    } else {
      const queue = /:sqs:path\/[^/]+\/([^/]+)$/.exec(integration.uri ?? '')?.[1]?.replace(/\.QueueName$/, '');
      const sqsTemplate = integration.type === 'AWS' && queue !== undefined;
      const known = sqsTemplate && (sqsQueues.has(queue) || queuesOf(template).some((q) => q.properties.QueueName === queue));
      if (known) {
        integrations.set(key, integration);
      } else {
        const what = sqsTemplate
          ? `an SQS integration with queue ${queue}, which is not a queue of this template`
          : `a ${integration.type} integration${integration.uri ? ` to ${integration.uri}` : ''}, which the local gateway does not emulate`;
        notices.push(`route ${key} (${where}) is ${what}: messages to ${key} get an internal error locally`);
        unavailableRoutes.set(key, `its ${integration.type} integration is not emulated locally`);
      }
    }
  }
  for (const [key, integration] of integrations) {
    if (integration.routeResponse && key !== '$connect' && key !== '$disconnect')
      notices.push(
        `route ${key} has a route response, which the gateway sends for Lambda proxy routes only: ${key}'s integration answer does not reach the client locally`,
      );
  }
  return { routes, integrations, notices, unavailableRoutes, twoWayRoutes };
};

/** The DynamoDB action a service integration calls (`arn:aws:apigateway:<region>:dynamodb:action/PutItem` → PutItem). */
export const dynamodbActionOf = (uri: string | undefined): string | undefined => /^arn:[\w-]+:apigateway:[^:]*:dynamodb:action\/(\w+)$/.exec(uri ?? '')?.[1];

/**
 * Resolves the integration's RequestTemplates written with intrinsics (a `Fn::Sub` that puts the
 * table's name in) to local values, in place; says why when one does not resolve.
 */
const resolveTemplates = (integration: RouteIntegration, refs: Record<string, string>): string | undefined => {
  for (const [key, written] of Object.entries(integration.writtenTemplates)) {
    if (typeof written === 'string') continue;
    try {
      integration.requestTemplates[key] = String(resolveIntrinsics(written, refs, `${integration.integrationId}.RequestTemplates.${key}`));
    } catch (error) {
      return `its request template ${key} does not resolve locally (${(error as Error).message})`;
    }
  }
  return undefined;
};

/** Reads a SAM template into the model the local gateway runs. Errors name what to fix. */
export const loadAppModel = (templatePath: string, options: Partial<ModelOptions> = {}): AppModel => {
  const opts: ModelOptions = { ...modelDefaults, ...options, parameters: { ...options.parameters } };
  const template = loadTemplate(templatePath);
  const unknown = Object.keys(opts.parameters).filter((name) => !Object.hasOwn(template.Parameters ?? {}, name));
  if (unknown.length > 0) {
    throw new Error(
      `--parameter-overrides: ${templatePath} has no parameter ${unknown.join(', ')} (it has ${Object.keys(template.Parameters ?? {}).join(', ') || 'none'})`,
    );
  }
  const tableNames = tableNamesOf(template, opts);
  const stage = stageFor(template, opts);
  const refs = refsFor(template, opts, stage, tableNames);

  const functions = new Map<string, FunctionModel>();
  for (const spec of functionsOf(template)) {
    functions.set(spec.logicalId, {
      logicalId: spec.logicalId,
      functionName: spec.logicalId,
      handler: spec.handler,
      runtime: spec.runtime ?? 'nodejs24.x',
      timeoutSeconds: spec.timeout,
      memoryMb: spec.memorySize,
      environment: resolveEnvironment(spec, refs),
      spec,
    });
  }
  const { routes, integrations, notices, unavailableRoutes, twoWayRoutes } = wiringOf(template, functions, refs);
  const api = Object.values(template.Resources).find((r) => r?.Type === 'AWS::Serverless::WebSocketApi' || r?.Type === 'AWS::ApiGatewayV2::Api');
  const stageVariables = resolveIntrinsics(api?.Properties?.StageVariables ?? {}, refs, 'StageVariables') as Record<string, unknown>;
  return {
    templatePath,
    template,
    authorizer: hasApi(template) ? authorizerOf(template) : undefined,
    stageVariables: Object.fromEntries(Object.entries(stageVariables).map(([k, v]) => [k, String(v)])),
    routeSelectionExpression: hasApi(template) ? routeSelectionExpression(template) : '$request.body.action',
    routes,
    integrations,
    unavailableRoutes,
    twoWayRoutes,
    notices,
    functions,
    tables: tablesOf(template).map((table) => {
      const tableName = tableNames.get(table.logicalId)!;
      // Intrinsics wherever the definition has them (`ReadCapacityUnits: !Ref Param`), resolved as CloudFormation would.
      const definition = createTableInput(table, tableName, (value, at) => resolveIntrinsics(value, refs, at));
      return { logicalId: table.logicalId, tableName, definition, ttlAttribute: table.ttlAttribute };
    }),
    stage: stage.stage,
    refs,
    options: opts,
    queues: queuesOf(template),
  };
};
