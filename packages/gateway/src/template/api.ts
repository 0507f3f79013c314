// The WebSocket API's wiring: its routes (SAM Routes, or raw ApiGatewayV2 Route → Integration →
// function), route selection expression and stage.
import { resourcesOfType } from './load.ts';
import { localRefs } from './refs.ts';
import { resolveIntrinsics } from './intrinsics.ts';
import type { Resource, Template } from './types.ts';

export const theWebSocketApi = (template: Template): [string, Resource] => {
  const apis = resourcesOfType(template, 'AWS::Serverless::WebSocketApi', 'AWS::ApiGatewayV2::Api').filter(
    ([, r]) => r.Type === 'AWS::Serverless::WebSocketApi' || r.Properties?.ProtocolType === 'WEBSOCKET',
  );
  if (apis.length !== 1) {
    throw new Error(
      `Expected exactly one WebSocket API (AWS::Serverless::WebSocketApi) in the template, found ${apis.length}` +
        (apis.length ? `: ${apis.map(([id]) => id).join(', ')}` : ''),
    );
  }
  return apis[0]!;
};

/** The API's route selection expression, e.g. `$request.body.action`. */
export const routeSelectionExpression = (template: Template): string => {
  const [id, api] = theWebSocketApi(template);
  const expression = api.Properties?.RouteSelectionExpression;
  if (typeof expression !== 'string') throw new Error(`${id} has no RouteSelectionExpression`);
  return expression;
};

/**
 * Names for resolving the wiring between resources without knowing their values: `!Ref X` is X,
 * `!GetAtt F.Arn` of a function is a Lambda ARN that names F, any other attribute is `X.Attr`,
 * parameters their defaults, pseudo parameters their local values. Route targets, integration
 * URIs and API ids written with Ref, Join, Sub or GetAtt all resolve to text that names the
 * logical ids they point at.
 */
const wiringRefs = (template: Template): Record<string, string> => {
  const base = localRefs(template);
  return new Proxy(base, {
    get: (target, name) => {
      if (typeof name !== 'string') return undefined;
      if (Object.hasOwn(target, name)) return target[name];
      const [id, attr] = name.split(/\.(.*)/s);
      if (!id || !Object.hasOwn(template.Resources, id)) return undefined;
      if (attr === undefined) return id;
      if (attr === 'Arn' && functionTypes.includes(template.Resources[id]!.Type)) {
        return `arn:${base['AWS::Partition']}:lambda:${base['AWS::Region']}:${base['AWS::AccountId']}:function:${id}`;
      }
      return `${id}.${attr}`;
    },
  });
};

const functionTypes = ['AWS::Serverless::Function', 'AWS::Lambda::Function'];

/** The function logical id a resolved Lambda ARN (or integration URI around one) names. */
const functionNamed = (text: unknown, functionIds: Set<string>): string | undefined => {
  if (typeof text !== 'string') return undefined;
  if (functionIds.has(text)) return text;
  const name = /:function:([A-Za-z0-9_-]+)/.exec(text)?.[1];
  return name !== undefined && functionIds.has(name) ? name : undefined;
};

const resolvedOrUndefined = (value: unknown, refs: Record<string, string>): unknown => {
  try {
    return resolveIntrinsics(value, refs);
  } catch {
    return undefined;
  }
};

/** The logical id that `!GetAtt X.Arn`, `!Ref X` or `!Sub ...${X.Arn}...` points at. */
export const targetOf = (value: unknown): string | undefined => {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const getAtt = v['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const sub = v['Fn::Sub'];
  if (typeof sub === 'string') return /\$\{([A-Za-z0-9]+)\.Arn\}/.exec(sub)?.[1];
  return undefined;
};

/** One route of the WebSocket API and what it integrates with. */
export interface RouteIntegration {
  routeKey: string;
  /** The AWS::ApiGatewayV2::Integration's logical id (none for SAM's Routes). */
  integrationId: string | undefined;
  /** IntegrationType: AWS_PROXY (Lambda proxy), AWS (Lambda custom, or another AWS service), HTTP, HTTP_PROXY, MOCK. */
  type: string;
  /** The function a Lambda integration invokes. */
  functionId: string | undefined;
  /** The integration's URI, resolved to local names (e.g. arn:aws:apigateway:us-east-1:sqs:path/123456789012/Queue.QueueName). */
  uri: string | undefined;
  /** RequestTemplates: text as written; one written with an intrinsic (Fn::Sub) is resolved by the app model with local values. */
  requestTemplates: Record<string, string>;
  /** RequestTemplates as written (intrinsics unresolved). */
  writtenTemplates: Record<string, unknown>;
  /** CredentialsArn as written: the role API Gateway assumes to call an AWS service. */
  credentialsArn: unknown;
  templateSelectionExpression: string | undefined;
  /** WHEN_NO_MATCH (API Gateway's default), NEVER or WHEN_NO_TEMPLATES. */
  passthroughBehavior: string;
  /** The route has a route response (AWS::ApiGatewayV2::RouteResponse): a two-way route, whose integration's answer goes back to the client. */
  routeResponse: boolean;
}

/**
 * Every route of the WebSocket API with its integration. Reads `Routes` of an
 * AWS::Serverless::WebSocketApi (Lambda proxy, always), or for a raw AWS::ApiGatewayV2 API, each
 * Route → its Integration (Target `integrations/<id>`, written with Join, Sub or a literal) → the
 * IntegrationUri (Sub, GetAtt, Join). A Lambda integration that names no function of the template
 * is an error; other integrations (AWS services, HTTP, MOCK) are listed for the caller to emulate
 * or skip.
 */
export const integrationsOf = (template: Template): RouteIntegration[] => {
  const [apiId, api] = theWebSocketApi(template);
  const functionIds = new Set(resourcesOfType(template, ...functionTypes).map(([id]) => id));
  const refs = wiringRefs(template);
  const lambdaFunction = (key: string, target: unknown, written: unknown): string => {
    const fn = functionNamed(target, functionIds);
    if (!fn) {
      const named = targetOf(written) ?? (typeof target === 'string' ? target : JSON.stringify(written));
      throw new Error(`Route ${key} of ${apiId} does not point at a function of this template (got ${named ?? 'nothing'})`);
    }
    return fn;
  };
  const none = {
    integrationId: undefined,
    uri: undefined,
    requestTemplates: {},
    writtenTemplates: {},
    credentialsArn: undefined,
    templateSelectionExpression: undefined,
    passthroughBehavior: 'WHEN_NO_MATCH',
    routeResponse: false,
  };
  if (api.Type === 'AWS::Serverless::WebSocketApi') {
    return Object.entries<any>(api.Properties?.Routes ?? {}).map(([key, route]) => ({
      ...none,
      routeKey: key,
      type: 'AWS_PROXY',
      functionId: lambdaFunction(key, resolvedOrUndefined(route?.FunctionArn, refs), route?.FunctionArn),
    }));
  }
  const integrations: RouteIntegration[] = [];
  const withResponses = new Set(
    resourcesOfType(template, 'AWS::ApiGatewayV2::RouteResponse').map(([, r]) => String(resolvedOrUndefined(r.Properties?.RouteId, refs))),
  );
  for (const [routeId, route] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
    const p = route.Properties ?? {};
    if (String(resolvedOrUndefined(p.ApiId, refs)).replace(/\.ApiId$/, '') !== apiId) continue;
    const key = String(resolvedOrUndefined(p.RouteKey, refs));
    const target = resolvedOrUndefined(p.Target, refs);
    const integrationId = typeof target === 'string' ? /^integrations\/([A-Za-z0-9]+)$/.exec(target)?.[1] : undefined;
    const integration = integrationId ? (template.Resources[integrationId]?.Properties ?? {}) : {};
    const uri = resolvedOrUndefined(integration.IntegrationUri, refs);
    const type = String(integration.IntegrationType ?? 'AWS_PROXY');
    // AWS_PROXY is always Lambda; AWS is Lambda when its URI is the Lambda invocation path.
    const isLambda = type === 'AWS_PROXY' || (type === 'AWS' && (typeof uri !== 'string' || /:lambda:path\/|:function:/.test(uri) || functionIds.has(uri)));
    const templates = integration.RequestTemplates;
    integrations.push({
      routeKey: key,
      integrationId,
      type,
      functionId: isLambda ? lambdaFunction(key, uri, p.Target) : undefined,
      uri: typeof uri === 'string' ? uri : undefined,
      requestTemplates:
        templates !== null && typeof templates === 'object'
          ? Object.fromEntries(Object.entries(templates).map(([k, v]) => [k, typeof v === 'string' ? v : String(resolvedOrUndefined(v, refs))]))
          : {},
      writtenTemplates: templates !== null && typeof templates === 'object' ? { ...templates } : {},
      credentialsArn: integration.CredentialsArn,
      templateSelectionExpression: typeof integration.TemplateSelectionExpression === 'string' ? integration.TemplateSelectionExpression : undefined,
      passthroughBehavior: String(integration.PassthroughBehavior ?? 'WHEN_NO_MATCH'),
      routeResponse: withResponses.has(routeId),
    });
  }
  return integrations;
};

/** Route key → logical id of its function, for the routes that invoke a Lambda function (see integrationsOf). */
export const routesOf = (template: Template): Record<string, string> =>
  Object.fromEntries(integrationsOf(template).flatMap((i) => (i.functionId === undefined ? [] : [[i.routeKey, i.functionId]])));

/** The stage the template deploys its WebSocket API to: SAM's StageName, or a raw Stage of that API. */
export const stageOf = (template: Template): unknown => {
  const [apiId, api] = theWebSocketApi(template);
  if (api.Type === 'AWS::Serverless::WebSocketApi') return api.Properties?.StageName;
  const refs = wiringRefs(template);
  const stage = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage').find(
    ([, r]) => String(resolvedOrUndefined(r.Properties?.ApiId, refs)).replace(/\.ApiId$/, '') === apiId,
  );
  return stage?.[1].Properties?.StageName;
};
