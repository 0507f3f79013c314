// Reads a template's $connect authorizer and its development-issuer opt-in, for the local gateway.
//
//   authorizerOf(template) → { kind: 'lambda', functionId: 'AuthorizerFunction', identitySources: ['route.request.querystring.token'], name }
//                          | { kind: 'iam' } | undefined (no authorizer)
//
// Two ways to declare one, as on AWS: `Auth: { AuthType: CUSTOM, AuthArn, IdentitySource }` on an
// AWS::Serverless::WebSocketApi, or a raw AWS::ApiGatewayV2::Authorizer (AuthorizerType REQUEST)
// named by the AuthorizerId of the API's $connect AWS::ApiGatewayV2::Route.
//
//   devIssuerOf(template) → { issuerParameter: 'IssuerUrl', audienceParameter: 'Audience' } | undefined
//
// The template opts in to the gateway's development OIDC issuer with top-level Metadata that CloudFormation
// ignores:
//   Metadata:
//     WsOutboxLocal:
//       DevIssuer: { IssuerParameter: IssuerUrl, AudienceParameter: Audience }
// Locally, those parameters then name the dev issuer (unless overridden); in AWS nothing reads this.
import { resourcesOfType, targetOf, theWebSocketApi, type Template } from './template.ts';

export type AuthorizerSpec = { kind: 'lambda'; functionId: string; identitySources: string[]; name: string } | { kind: 'iam' };

export interface DevIssuerSpec {
  issuerParameter: string;
  audienceParameter?: string;
}

const identitySourcePattern = /^(route\.request\.(header|querystring)\.[A-Za-z0-9._-]+|stageVariables\.[A-Za-z0-9._-]+|context\.[A-Za-z0-9._-]+)$/;

const identitySourcesOf = (value: unknown, at: string): string[] => {
  const list = value === undefined ? [] : Array.isArray(value) ? value : String(value).split(',');
  const sources = list.map((s) => String(s).trim()).filter((s) => s !== '');
  for (const source of sources) {
    if (!identitySourcePattern.test(source)) {
      throw new Error(
        `${at}: identity source ${JSON.stringify(source)} is not one of route.request.header.X, route.request.querystring.X, stageVariables.X or context.X`,
      );
    }
  }
  return sources;
};

const functionOf = (template: Template, value: unknown, at: string): string => {
  const id =
    targetOf(value) ??
    JSON.stringify(value ?? '')
      .match(/\$\{([A-Za-z0-9]+)\.Arn\}|"Fn::GetAtt":\["([A-Za-z0-9]+)"/)
      ?.slice(1)
      .find(Boolean);
  const type = id === undefined ? undefined : template.Resources[id]?.Type;
  if (type !== 'AWS::Serverless::Function' && type !== 'AWS::Lambda::Function') {
    throw new Error(`${at} does not point at a function of this template (got ${JSON.stringify(value)})`);
  }
  return id!;
};

/** The WebSocket API's $connect authorizer, or undefined when it has none (AuthType NONE). */
export const authorizerOf = (template: Template): AuthorizerSpec | undefined => {
  const [apiId, api] = theWebSocketApi(template);
  if (api.Type === 'AWS::Serverless::WebSocketApi') {
    const auth = api.Properties?.Auth;
    if (auth === undefined || auth === null) return undefined;
    const type = String(auth.AuthType ?? '').toUpperCase();
    if (type === 'NONE') return undefined;
    if (type === 'AWS_IAM') return { kind: 'iam' };
    if (type !== 'CUSTOM') throw new Error(`${apiId}.Auth.AuthType must be NONE, AWS_IAM or CUSTOM, got ${JSON.stringify(auth.AuthType)}`);
    return {
      kind: 'lambda',
      functionId: functionOf(template, auth.AuthArn, `${apiId}.Auth.AuthArn`),
      identitySources: identitySourcesOf(auth.IdentitySource, `${apiId}.Auth.IdentitySource`),
      name: typeof auth.Name === 'string' ? auth.Name : `${apiId}Authorizer`,
    };
  }
  const connect = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').find(
    ([, r]) => targetOf(r.Properties?.ApiId) === apiId && r.Properties?.RouteKey === '$connect',
  );
  const type = String(connect?.[1].Properties?.AuthorizationType ?? 'NONE').toUpperCase();
  if (connect === undefined || type === 'NONE') return undefined;
  if (type === 'AWS_IAM') return { kind: 'iam' };
  const [routeId, route] = connect;
  const authorizerId = targetOf(route.Properties?.AuthorizerId);
  const authorizer = authorizerId === undefined ? undefined : template.Resources[authorizerId];
  if (authorizer?.Type !== 'AWS::ApiGatewayV2::Authorizer') {
    throw new Error(`${routeId}: AuthorizationType ${type} needs an AuthorizerId that refers to an AWS::ApiGatewayV2::Authorizer of this template`);
  }
  if (authorizer.Properties?.AuthorizerType !== 'REQUEST') {
    throw new Error(`${authorizerId}: WebSocket APIs take REQUEST authorizers only, got ${JSON.stringify(authorizer.Properties?.AuthorizerType)}`);
  }
  return {
    kind: 'lambda',
    functionId: functionOf(template, authorizer.Properties?.AuthorizerUri, `${authorizerId}.AuthorizerUri`),
    identitySources: identitySourcesOf(authorizer.Properties?.IdentitySource, `${authorizerId}.IdentitySource`),
    name: typeof authorizer.Properties?.Name === 'string' ? authorizer.Properties.Name : authorizerId!,
  };
};

/** Which template parameters the local gateway points at its development issuer, if the template asks. */
export const devIssuerOf = (template: Template): DevIssuerSpec | undefined => {
  const spec = template.Metadata?.WsOutboxLocal?.DevIssuer;
  if (spec === undefined || spec === null) return undefined;
  const issuerParameter = spec.IssuerParameter;
  const audienceParameter = spec.AudienceParameter;
  for (const [key, name] of [
    ['IssuerParameter', issuerParameter],
    ['AudienceParameter', audienceParameter],
  ] as const) {
    if (name === undefined && key === 'AudienceParameter') continue;
    if (typeof name !== 'string' || template.Parameters?.[name] === undefined) {
      throw new Error(`Metadata.WsOutboxLocal.DevIssuer.${key} must name a parameter of this template, got ${JSON.stringify(name)}`);
    }
  }
  return { issuerParameter, ...(audienceParameter === undefined ? {} : { audienceParameter }) };
};
