// The WebSocket API's wiring: its routes (SAM Routes, or raw ApiGatewayV2 Route → Integration →
// function), route selection expression and stage.
import { resourcesOfType } from './load.ts';
import { localRefs } from './refs.ts';
import { resolveIntrinsics } from './intrinsics.ts';
import type { Resource, Template } from './types.ts';

export const theWebSocketApi = (template: Template): [string, Resource] => {
  const apis = resourcesOfType(template, 'AWS::Serverless::WebSocketApi', 'AWS::ApiGatewayV2::Api')
    .filter(([, r]) => r.Type === 'AWS::Serverless::WebSocketApi' || r.Properties?.ProtocolType === 'WEBSOCKET');
  if (apis.length !== 1) {
    throw new Error(`Expected exactly one WebSocket API (AWS::Serverless::WebSocketApi) in the template, found ${apis.length}`
      + (apis.length ? `: ${apis.map(([id]) => id).join(', ')}` : ''));
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

/**
 * Route key → logical id of its function. Reads `Routes` of an AWS::Serverless::WebSocketApi, or
 * for a raw AWS::ApiGatewayV2 API, each Route → its Integration (Target `integrations/<id>`,
 * written with Join, Sub or a literal) → the IntegrationUri's function (Sub, GetAtt, Join).
 */
export const routesOf = (template: Template): Record<string, string> => {
  const [apiId, api] = theWebSocketApi(template);
  const routes: Record<string, string> = {};
  const functionIds = new Set(resourcesOfType(template, ...functionTypes).map(([id]) => id));
  const refs = wiringRefs(template);
  const add = (key: string, target: unknown, written: unknown) => {
    const fn = functionNamed(target, functionIds);
    if (!fn) {
      const named = targetOf(written) ?? (typeof target === 'string' ? target : JSON.stringify(written));
      throw new Error(`Route ${key} of ${apiId} does not point at a function of this template (got ${named ?? 'nothing'})`);
    }
    routes[key] = fn;
  };
  if (api.Type === 'AWS::Serverless::WebSocketApi') {
    for (const [key, route] of Object.entries<any>(api.Properties?.Routes ?? {})) {
      add(key, resolvedOrUndefined(route?.FunctionArn, refs), route?.FunctionArn);
    }
  } else {
    for (const [, route] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
      const p = route.Properties ?? {};
      if (String(resolvedOrUndefined(p.ApiId, refs)).replace(/\.ApiId$/, '') !== apiId) continue;
      const target = resolvedOrUndefined(p.Target, refs);
      const integrationId = typeof target === 'string' ? /^integrations\/([A-Za-z0-9]+)$/.exec(target)?.[1] : undefined;
      const uri = integrationId ? template.Resources[integrationId]?.Properties?.IntegrationUri : undefined;
      add(String(resolvedOrUndefined(p.RouteKey, refs)), resolvedOrUndefined(uri, refs), p.Target);
    }
  }
  return routes;
};

/** The stage the template deploys its WebSocket API to: SAM's StageName, or a raw Stage of that API. */
export const stageOf = (template: Template): unknown => {
  const [apiId, api] = theWebSocketApi(template);
  if (api.Type === 'AWS::Serverless::WebSocketApi') return api.Properties?.StageName;
  const refs = wiringRefs(template);
  const stage = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage')
    .find(([, r]) => String(resolvedOrUndefined(r.Properties?.ApiId, refs)).replace(/\.ApiId$/, '') === apiId);
  return stage?.[1].Properties?.StageName;
};
