// What the local gateway needs to know about a SAM template: the WebSocket API's routes and route
// selection expression, each routed function's runtime settings and resolved environment, and the
// DynamoDB tables to create. Everything downstream (pool, gateway, invoke) works from this model,
// never from raw YAML.
import { dirname, resolve } from 'node:path';
import { readCfnTemplate } from './cfn-yaml.ts';
import { resolveValue, referencedIds, type ResolveContext } from './intrinsics.ts';

export interface FunctionModel {
  logicalId: string;
  functionName: string;
  /** Source entry for the bundler (Metadata.BuildEntry), absolute; undefined if not declared. */
  buildEntry?: string;
  /** `index.handler` → module `index`, export `handler`. */
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Template environment, intrinsics resolved. */
  environment: Record<string, string>;
  /** Variables whose value could not be resolved locally (they are left out). */
  unresolved: string[];
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
  /** Directory of the template: relative paths in it resolve from here. */
  root: string;
  routeSelectionExpression: string;
  /** Route key → function logical id. */
  routes: Map<string, string>;
  functions: Map<string, FunctionModel>;
  tables: TableModel[];
}

export interface ModelOptions {
  region: string;
  accountId: string;
  apiId: string;
  /** Parameter overrides (like `sam --parameter-overrides`). */
  parameters?: Record<string, string>;
}

const defaults: ModelOptions = { region: 'us-east-1', accountId: '000000000000', apiId: 'localapi01' };

const tableTypes = new Set(['AWS::DynamoDB::Table', 'AWS::Serverless::SimpleTable']);
const functionTypes = new Set(['AWS::Serverless::Function', 'AWS::Lambda::Function']);
const apiTypes = new Set(['AWS::Serverless::WebSocketApi', 'AWS::ApiGatewayV2::Api']);

type Resources = Record<string, { Type: string; Properties?: any; Metadata?: any }>;

const tableModel = (logicalId: string, resource: Resources[string], ctx: ResolveContext): TableModel => {
  const p = resource.Properties ?? {};
  const tableName = ctx.refs[logicalId]!;
  if (resource.Type === 'AWS::Serverless::SimpleTable') {
    const pk = p.PrimaryKey ?? { Name: 'id', Type: 'String' };
    const type = ({ String: 'S', Number: 'N', Binary: 'B' } as Record<string, string>)[pk.Type] ?? 'S';
    return {
      logicalId, tableName,
      definition: {
        TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: pk.Name, AttributeType: type }],
        KeySchema: [{ AttributeName: pk.Name, KeyType: 'HASH' }],
      },
    };
  }
  // Only the parts dynalite understands: TTL, streams, encryption and tags have no local meaning.
  const keep = ['AttributeDefinitions', 'KeySchema', 'BillingMode', 'ProvisionedThroughput',
    'GlobalSecondaryIndexes', 'LocalSecondaryIndexes'];
  const definition: Record<string, unknown> = { TableName: tableName };
  for (const key of keep) if (p[key] !== undefined) definition[key] = p[key];
  if (definition.BillingMode === undefined && definition.ProvisionedThroughput === undefined) {
    definition.BillingMode = 'PAY_PER_REQUEST';
  }
  const ttl = p.TimeToLiveSpecification;
  return { logicalId, tableName, definition, ttlAttribute: ttl?.Enabled ? ttl.AttributeName : undefined };
};

const functionModel = (logicalId: string, resource: Resources[string], globals: any, ctx: ResolveContext, root: string): FunctionModel => {
  const p = { ...globals, ...(resource.Properties ?? {}) };
  const variables = { ...(globals.Environment?.Variables ?? {}), ...(resource.Properties?.Environment?.Variables ?? {}) };
  const environment: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const [name, value] of Object.entries(variables)) {
    const resolved = resolveValue(value, ctx);
    if (resolved === undefined) unresolved.push(name);
    else environment[name] = resolved;
  }
  const entry = resource.Metadata?.BuildEntry ?? resource.Metadata?.BuildProperties?.EntryPoints?.[0];
  return {
    logicalId,
    functionName: ctx.refs[logicalId]!,
    buildEntry: typeof entry === 'string' ? resolve(root, entry) : undefined,
    handler: String(p.Handler ?? 'index.handler'),
    runtime: String(p.Runtime ?? 'nodejs24.x'),
    timeoutSeconds: Number(resolveValue(p.Timeout, ctx) ?? 3),
    memoryMb: Number(resolveValue(p.MemorySize, ctx) ?? 128),
    environment,
    unresolved,
  };
};

/** The function a route integration points at, found through its ARN reference. */
const functionReferencedBy = (value: unknown, resources: Resources, seen = new Set<string>()): string | undefined => {
  for (const id of referencedIds(value)) {
    const r = resources[id];
    if (!r || seen.has(id)) continue;
    if (functionTypes.has(r.Type)) return id;
    // A raw ApiGatewayV2 Route targets an Integration, whose IntegrationUri names the function.
    if (r.Type === 'AWS::ApiGatewayV2::Integration') {
      seen.add(id);
      const found = functionReferencedBy(r.Properties?.IntegrationUri, resources, seen);
      if (found) return found;
    }
  }
  return undefined;
};

const routesOf = (resources: Resources): { expression: string; routes: Map<string, string> } => {
  const apis = Object.entries(resources).filter(([, r]) => apiTypes.has(r.Type)
    && (r.Type === 'AWS::Serverless::WebSocketApi' || r.Properties?.ProtocolType === 'WEBSOCKET'));
  if (apis.length === 0) throw new Error('The template has no WebSocket API (AWS::Serverless::WebSocketApi or AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET)');
  if (apis.length > 1) throw new Error(`The template has ${apis.length} WebSocket APIs (${apis.map(([id]) => id).join(', ')}); the local gateway serves one`);
  const [apiId, api] = apis[0]!;
  const expression = String(api.Properties?.RouteSelectionExpression ?? '$request.body.action');
  const routes = new Map<string, string>();
  const add = (key: string, target: unknown) => {
    const fn = functionReferencedBy(target, resources);
    if (!fn) throw new Error(`Route ${key} of ${apiId} does not point at a function in the template`);
    routes.set(key, fn);
  };
  if (api.Type === 'AWS::Serverless::WebSocketApi') {
    for (const [key, route] of Object.entries<any>(api.Properties?.Routes ?? {})) add(key, route?.FunctionArn ?? route);
  } else {
    for (const [, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::ApiGatewayV2::Route' || !referencedIds(r.Properties?.ApiId).has(apiId)) continue;
      add(String(r.Properties.RouteKey), r.Properties.Target);
    }
  }
  if (routes.size === 0) throw new Error(`The WebSocket API ${apiId} has no routes`);
  return { expression, routes };
};

/** Reads a SAM template into the model the local gateway runs. */
export const loadAppModel = (templatePath: string, options: Partial<ModelOptions> = {}): AppModel => {
  const opts = { ...defaults, ...options };
  const path = resolve(templatePath);
  const root = dirname(path);
  const template = readCfnTemplate(path);
  const resources = template.Resources as Resources;
  const refs: Record<string, string> = {};
  const types: Record<string, string> = {};
  for (const [name, param] of Object.entries<any>(template.Parameters ?? {})) {
    const value = opts.parameters?.[name] ?? param?.Default;
    if (value !== undefined) refs[name] = String(value);
  }
  for (const [id, r] of Object.entries(resources)) {
    types[id] = r.Type;
    if (tableTypes.has(r.Type) || functionTypes.has(r.Type)) {
      const nameProp = tableTypes.has(r.Type) ? r.Properties?.TableName : r.Properties?.FunctionName;
      refs[id] = typeof nameProp === 'string' ? nameProp : id;
    } else if (apiTypes.has(r.Type)) {
      refs[id] = opts.apiId;
    }
  }
  const ctx: ResolveContext = { region: opts.region, accountId: opts.accountId, refs, types };
  // Second pass: names given by intrinsics (`TableName: !Sub ${AWS::StackName}-x`).
  for (const [id, r] of Object.entries(resources)) {
    const nameProp = tableTypes.has(r.Type) ? r.Properties?.TableName : functionTypes.has(r.Type) ? r.Properties?.FunctionName : undefined;
    if (nameProp !== undefined && typeof nameProp !== 'string') refs[id] = resolveValue(nameProp, ctx) ?? id;
  }
  const globals = template.Globals?.Function ?? {};
  const { expression, routes } = routesOf(resources);
  const functions = new Map<string, FunctionModel>();
  // Every function, routed or not: `npm run invoke` can call any of them.
  for (const [id, r] of Object.entries(resources)) {
    if (functionTypes.has(r.Type)) functions.set(id, functionModel(id, r, globals, ctx, root));
  }
  const tables = Object.entries(resources).filter(([, r]) => tableTypes.has(r.Type)).map(([id, r]) => tableModel(id, r, ctx));
  return { templatePath: path, root, routeSelectionExpression: expression, routes, functions, tables };
};
