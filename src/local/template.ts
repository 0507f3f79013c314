// Reads template.yaml, the single source of truth, for the build (build.mjs), the local gateway and
// the tests. Plain data in, plain data out; nothing here touches the network or the file system
// beyond reading the template.
//
//   const template = loadTemplate('template.yaml');
//   functionsOf(template)            → [{ logicalId, codeUri, handler, entry, timeout, memorySize,
//                                         environment, routes, … }]
//   routesOf(template)               → { '$connect': 'ConnectFunction', join: 'JoinFunction', … }
//   routeSelectionExpression(template) → '$request.body.action'
//   tableOf(template)                → { logicalId: 'Table', properties, ttlAttribute: 'ttl' }
//   createTableInput(tableOf(t), 'local-table') → a DynamoDB CreateTable input (dynalite-safe)
//   resolveIntrinsics(fn.environment, localRefs(template, { Table: 'local-table' }))
//                                    → { TABLE_NAME: 'local-table', … }
//
// Paths in the result (entry) are absolute, resolved from the template's folder as SAM resolves
// CodeUri. A function's source defaults to handlers/<last folder of CodeUri>.ts; a function may
// name another source with `Metadata: { BuildEntry: path/to/file.ts }` (relative to the template's
// folder; the gateway tests use this for fixtures outside handlers/).
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

export interface Resource {
  Type: string;
  Properties?: Record<string, any>;
  Metadata?: Record<string, any>;
  [attribute: string]: unknown;
}

export interface Template {
  AWSTemplateFormatVersion?: string;
  Transform?: string | string[];
  Parameters?: Record<string, { Type: string; Default?: unknown; [key: string]: unknown }>;
  Globals?: { Function?: Record<string, any>; [section: string]: unknown };
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; [key: string]: unknown }>;
}

export interface FunctionSpec {
  logicalId: string;
  /** As written, e.g. `dist/send/`. */
  codeUri: string;
  /** As written, e.g. `index.handler`. */
  handler: string;
  /** The module part of `handler` (`index`): the bundle is `<codeUri>/<module>.mjs`. */
  handlerModule: string;
  /** The export part of `handler` (`handler`). */
  handlerExport: string;
  /** Absolute path of the TypeScript source to bundle. */
  entry: string;
  /** True when `entry` came from Metadata.BuildEntry rather than the CodeUri convention. */
  entryFromMetadata: boolean;
  runtime: string | undefined;
  architectures: string[];
  /** Seconds. */
  timeout: number;
  /** MB. */
  memorySize: number;
  /** Globals.Function.Environment.Variables overlaid with the function's own, intrinsics as written. */
  environment: Record<string, unknown>;
  /** The function's `Policies`, as written. */
  policies: unknown[];
  /** Route keys of the WebSocket API that invoke this function. */
  routes: string[];
  /** The function's SQS event sources (SAM `Events` of Type SQS). */
  sqsEvents: SqsEventSpec[];
}

/** A SAM `Events` entry of Type SQS: an event source mapping from a queue of the template. */
export interface SqsEventSpec {
  name: string;
  /** The logical id of the AWS::SQS::Queue it reads (from `Queue: !GetAtt X.Arn`). */
  queue: string;
  /** Records per invocation (SAM's default: 10). */
  batchSize: number;
  /** How long the poller may gather records before it invokes, in seconds (default 0). */
  batchingWindowSeconds: number;
  /** `ReportBatchItemFailures` in FunctionResponseTypes: the function answers with the records that failed. */
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency: concurrent invocations at most (undefined: no cap of its own). */
  maximumConcurrency: number | undefined;
  enabled: boolean;
}

export interface QueueSpec {
  logicalId: string;
  /** The AWS::SQS::Queue Properties, as written. */
  properties: Record<string, any>;
  /** The logical id of its dead-letter queue (RedrivePolicy.deadLetterTargetArn: !GetAtt X.Arn). */
  deadLetterQueue: string | undefined;
  maxReceiveCount: number | undefined;
}

export interface TableSpec {
  logicalId: string;
  /** The AWS::DynamoDB::Table Properties, as written. */
  properties: Record<string, any>;
  /** The TTL attribute when TimeToLiveSpecification is enabled. */
  ttlAttribute: string | undefined;
}

// CloudFormation's short-form intrinsics are YAML tags; each becomes its long JSON form
// ({ Ref: x }, { 'Fn::GetAtt': [a, b] }) so the rest of the code sees what CloudFormation sees.
const intrinsicNames = ['Ref', 'Condition', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals',
  'Not', 'And', 'Or', 'FindInMap', 'Base64', 'Cidr', 'GetAZs', 'ImportValue', 'Transform', 'ToJsonString', 'Length'];

const longForm = (name: string): string => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

/** The yaml (v2) custom tags for CloudFormation's short forms, scalar, sequence and mapping. */
export const cfnTags: Array<ScalarTag | CollectionTag> = intrinsicNames.flatMap((name) => {
  const key = longForm(name);
  const scalar: ScalarTag = {
    tag: `!${name}`,
    // `!GetAtt A.B` splits at the first dot only (attribute names may contain dots).
    resolve: (text: string) => {
      if (name !== 'GetAtt') return { [key]: text };
      const dot = text.indexOf('.');
      return { [key]: dot < 0 ? [text] : [text.slice(0, dot), text.slice(dot + 1)] };
    },
  };
  const collection = (kind: 'seq' | 'map'): CollectionTag => ({
    tag: `!${name}`,
    collection: kind,
    resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [key]: node.toJSON() }),
  }) as CollectionTag;
  return [scalar, collection('seq'), collection('map')];
});

// The folder each loaded template came from, so functionsOf can resolve entries without the
// caller passing the path again. A WeakMap keeps the template a plain object.
const origins = new WeakMap<object, string>();

/** Parses template text (YAML or JSON). `source` names it in errors. */
export const parseTemplate = (text: string, source = 'template'): Template => {
  let doc: unknown;
  try {
    doc = parse(text, { customTags: cfnTags });
  } catch (error) {
    throw new Error(`${source} is not valid YAML: ${(error as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error(`${source} is not a CloudFormation template (expected a mapping at the top level)`);
  }
  const resources = (doc as Template).Resources;
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) {
    throw new Error(`${source} is not a CloudFormation template: it has no Resources mapping`);
  }
  return doc as Template;
};

/** Reads and parses a template file. Synchronous: it is small, and callers may be CLIs. */
export const loadTemplate = (path: string): Template => {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the template ${absolute}: ${(error as Error).message}`);
  }
  const template = parseTemplate(text, absolute);
  origins.set(template, dirname(absolute));
  return template;
};

/** The folder relative paths in the template resolve from (the loaded file's folder, else cwd). */
export const templateRoot = (template: Template): string => origins.get(template) ?? process.cwd();

const resourcesOfType = (template: Template, ...types: string[]): Array<[string, Resource]> =>
  Object.entries(template.Resources).filter(([, r]) => r !== null && typeof r === 'object' && types.includes(r.Type));

const theWebSocketApi = (template: Template): [string, Resource] => {
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

/** The logical id that `!GetAtt X.Arn`, `!Ref X` or `!Sub ...${X.Arn}...` points at. */
const targetOf = (value: unknown): string | undefined => {
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
 * for a raw AWS::ApiGatewayV2 API, each Route → its Integration → the IntegrationUri's function.
 */
export const routesOf = (template: Template): Record<string, string> => {
  const [apiId, api] = theWebSocketApi(template);
  const routes: Record<string, string> = {};
  const functionIds = new Set(resourcesOfType(template, 'AWS::Serverless::Function', 'AWS::Lambda::Function').map(([id]) => id));
  const add = (key: string, target: string | undefined) => {
    if (!target || !functionIds.has(target)) {
      throw new Error(`Route ${key} of ${apiId} does not point at a function of this template (got ${target ?? 'nothing'})`);
    }
    routes[key] = target;
  };
  if (api.Type === 'AWS::Serverless::WebSocketApi') {
    for (const [key, route] of Object.entries<any>(api.Properties?.Routes ?? {})) add(key, targetOf(route?.FunctionArn));
  } else {
    for (const [, route] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
      if (targetOf(route.Properties?.ApiId) !== apiId) continue;
      const integrationId = JSON.stringify(route.Properties?.Target ?? '').match(/"Ref":"([A-Za-z0-9]+)"/)?.[1];
      const uri = integrationId ? template.Resources[integrationId]?.Properties?.IntegrationUri : undefined;
      const fn = JSON.stringify(uri ?? '').match(/\$\{([A-Za-z0-9]+)\.Arn\}|"Fn::GetAtt":\["([A-Za-z0-9]+)"/);
      add(String(route.Properties?.RouteKey), fn?.[1] ?? fn?.[2]);
    }
  }
  return routes;
};

const number = (value: unknown, fallback: number, what: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
};

/** Every AWS::Serverless::Function, with Globals.Function merged in (SAM's rules for the keys used here). */
export const functionsOf = (template: Template, options: { root?: string } = {}): FunctionSpec[] => {
  const root = options.root ?? templateRoot(template);
  const globals = template.Globals?.Function ?? {};
  const routes = Object.entries(routesOfIfAny(template));
  return resourcesOfType(template, 'AWS::Serverless::Function').map(([logicalId, resource]) => {
    const p = resource.Properties ?? {};
    const codeUri = p.CodeUri ?? globals.CodeUri;
    if (typeof codeUri !== 'string' || codeUri === '') {
      throw new Error(`${logicalId}: CodeUri must be a local folder such as dist/${logicalId.replace(/Function$/, '').toLowerCase()}/`);
    }
    const handler = p.Handler ?? globals.Handler;
    const [, handlerModule, handlerExport] = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(String(handler ?? '')) ?? [];
    if (!handlerModule || !handlerExport) {
      throw new Error(`${logicalId}: Handler must look like index.handler, got ${JSON.stringify(handler)}`);
    }
    const buildEntry = resource.Metadata?.BuildEntry;
    if (buildEntry !== undefined && (typeof buildEntry !== 'string' || buildEntry === '')) {
      throw new Error(`${logicalId}: Metadata.BuildEntry must be a path to a .ts file`);
    }
    const name = basename(codeUri.replace(/[\\/]+$/, ''));
    const entry = buildEntry ?? `handlers/${name}.ts`;
    return {
      logicalId,
      codeUri,
      handler: String(handler),
      handlerModule,
      handlerExport,
      entry: isAbsolute(entry) ? entry : resolve(root, entry),
      entryFromMetadata: buildEntry !== undefined,
      runtime: p.Runtime ?? globals.Runtime,
      architectures: p.Architectures ?? globals.Architectures ?? ['x86_64'],
      // SAM's own defaults: 3 s and 128 MB.
      timeout: number(p.Timeout ?? globals.Timeout, 3, `${logicalId}: Timeout`),
      memorySize: number(p.MemorySize ?? globals.MemorySize, 128, `${logicalId}: MemorySize`),
      environment: { ...(globals.Environment?.Variables ?? {}), ...(p.Environment?.Variables ?? {}) },
      policies: Array.isArray(p.Policies) ? p.Policies : p.Policies === undefined ? [] : [p.Policies],
      routes: routes.filter(([, id]) => id === logicalId).map(([key]) => key),
      sqsEvents: sqsEventsOf(logicalId, p.Events, template),
    };
  });
};

const sqsEventsOf = (logicalId: string, events: unknown, template: Template): SqsEventSpec[] => {
  if (events === undefined || events === null) return [];
  if (typeof events !== 'object' || Array.isArray(events)) throw new Error(`${logicalId}: Events must be a mapping`);
  return Object.entries(events as Record<string, any>).filter(([, e]) => e?.Type === 'SQS').map(([name, event]) => {
    const p = event.Properties ?? {};
    const at = `${logicalId}.Events.${name}`;
    const queue = targetOf(p.Queue);
    if (!queue || template.Resources[queue]?.Type !== 'AWS::SQS::Queue') {
      throw new Error(`${at}: Queue must point at an AWS::SQS::Queue of this template (!GetAtt Queue.Arn), got ${JSON.stringify(p.Queue)}`);
    }
    const types = p.FunctionResponseTypes ?? [];
    if (!Array.isArray(types)) throw new Error(`${at}: FunctionResponseTypes must be a list`);
    const concurrency = p.ScalingConfig?.MaximumConcurrency;
    return {
      name,
      queue,
      batchSize: number(p.BatchSize, 10, `${at}: BatchSize`),
      batchingWindowSeconds: p.MaximumBatchingWindowInSeconds === undefined ? 0 : number(p.MaximumBatchingWindowInSeconds, 0, `${at}: MaximumBatchingWindowInSeconds`),
      reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
      maximumConcurrency: concurrency === undefined ? undefined : number(concurrency, 0, `${at}: ScalingConfig.MaximumConcurrency`),
      enabled: p.Enabled !== false,
    };
  });
};

/** Every AWS::SQS::Queue, with its dead-letter queue when RedrivePolicy names one of the template's. */
export const queuesOf = (template: Template): QueueSpec[] =>
  resourcesOfType(template, 'AWS::SQS::Queue').map(([logicalId, resource]) => {
    const properties = resource.Properties ?? {};
    const redrive = properties.RedrivePolicy;
    const deadLetterQueue = redrive === undefined ? undefined : targetOf(redrive.deadLetterTargetArn);
    if (redrive !== undefined && (!deadLetterQueue || template.Resources[deadLetterQueue]?.Type !== 'AWS::SQS::Queue')) {
      throw new Error(`${logicalId}: RedrivePolicy.deadLetterTargetArn must point at an AWS::SQS::Queue of this template (!GetAtt Dlq.Arn)`);
    }
    return {
      logicalId,
      properties,
      deadLetterQueue,
      maxReceiveCount: redrive === undefined ? undefined : number(redrive.maxReceiveCount, 10, `${logicalId}: RedrivePolicy.maxReceiveCount`),
    };
  });

// A template without a WebSocket API (a build-only fixture) still has functions.
const routesOfIfAny = (template: Template): Record<string, string> => {
  const hasApi = resourcesOfType(template, 'AWS::Serverless::WebSocketApi', 'AWS::ApiGatewayV2::Api').length > 0;
  return hasApi ? routesOf(template) : {};
};

/** The template's one DynamoDB table. */
export const tableOf = (template: Template): TableSpec => {
  const tables = resourcesOfType(template, 'AWS::DynamoDB::Table');
  if (tables.length !== 1) throw new Error(`Expected exactly one AWS::DynamoDB::Table in the template, found ${tables.length}`);
  const [logicalId, resource] = tables[0]!;
  const properties = resource.Properties ?? {};
  const ttl = properties.TimeToLiveSpecification;
  return { logicalId, properties, ttlAttribute: ttl?.Enabled === true ? ttl.AttributeName : undefined };
};

/**
 * A CreateTable input for the table under a local name. Only the keys CreateTable takes:
 * TimeToLiveSpecification is a separate UpdateTimeToLive call (which dynalite lacks), and
 * streams, encryption and tags mean nothing locally.
 */
export const createTableInput = (table: TableSpec, tableName: string): Record<string, unknown> => {
  const keep = ['AttributeDefinitions', 'KeySchema', 'BillingMode', 'ProvisionedThroughput',
    'GlobalSecondaryIndexes', 'LocalSecondaryIndexes'];
  const input: Record<string, unknown> = { TableName: tableName };
  for (const key of keep) if (table.properties[key] !== undefined) input[key] = table.properties[key];
  return input;
};

/** Pseudo parameters as a local run sees them. */
export const pseudoParameters: Readonly<Record<string, string>> = {
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'ws-outbox-local',
};

/**
 * The names `!Ref`, `${…}` and `!GetAtt` resolve to locally: pseudo parameters, the template's
 * parameter defaults, then `overrides` (e.g. `{ Table: 'ws-outbox-local', Stage: 'local',
 * 'AWS::Region': 'eu-west-1', 'Table.Arn': 'arn:…' }`). A GetAtt is looked up as `Id.Attr`.
 */
export const localRefs = (template: Template, overrides: Record<string, string> = {}): Record<string, string> => {
  const refs: Record<string, string> = { ...pseudoParameters };
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    if (parameter?.Default !== undefined) refs[name] = String(parameter.Default);
  }
  return { ...refs, ...overrides };
};

const lookup = (name: string, refs: Record<string, string>, at: string): string => {
  const value = refs[name];
  if (value === undefined) throw new Error(`Cannot resolve ${name} at ${at}: pass it in refs (e.g. { ${JSON.stringify(name)}: '…' })`);
  return value;
};

/**
 * Replaces Ref, Fn::Sub (string or [string, vars]), Fn::GetAtt and Fn::Join in `value` using
 * `refs` (see localRefs). Anything else it meets is an error naming where: locally there is no
 * CloudFormation to evaluate conditions or imports.
 */
export const resolveIntrinsics = (value: unknown, refs: Record<string, string>, at = '$'): any => {
  if (Array.isArray(value)) return value.map((v, i) => resolveIntrinsics(v, refs, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Ref') return lookup(String(arg), refs, at);
  if (entries.length === 1 && key === 'Fn::GetAtt') {
    const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
    return lookup(`${id}.${attr}`, refs, at);
  }
  if (entries.length === 1 && key === 'Fn::Sub') {
    const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
    if (typeof text !== 'string') throw new Error(`Fn::Sub at ${at} needs a string`);
    const local = resolveIntrinsics(vars ?? {}, refs, `${at}.Fn::Sub[1]`) as Record<string, string>;
    // ${!Literal} is CloudFormation's escape for a literal ${Literal}.
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_, bang: string, name: string) =>
      bang ? `\${${name}}` : local[name] ?? lookup(name, refs, at));
  }
  if (entries.length === 1 && key === 'Fn::Join') {
    const [separator, parts] = arg as [string, unknown[]];
    return (resolveIntrinsics(parts, refs, `${at}.Fn::Join`) as unknown[]).join(separator);
  }
  if (entries.length === 1 && key !== undefined && (key.startsWith('Fn::') || key === 'Condition')) {
    throw new Error(`Cannot resolve ${key} at ${at} locally (supported: Ref, Fn::Sub, Fn::GetAtt, Fn::Join)`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs, `${at}.${k}`)]));
};

/** A function's environment as Lambda would see it: every value resolved and a string. */
export const resolveEnvironment = (fn: FunctionSpec, refs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(fn.environment).map(([name, value]) =>
    [name, String(resolveIntrinsics(value, refs, `${fn.logicalId}.Environment.Variables.${name}`))]));
