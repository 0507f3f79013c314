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
// CodeUri. A function's source is, in this order (see entryCandidates):
//   - `Metadata: { BuildEntry: path/to/file.ts }` (relative to the template's folder);
//   - SAM's esbuild metadata, `Metadata: { BuildMethod: esbuild, BuildProperties: { EntryPoints } }`
//     (relative to CodeUri, as `sam build` reads it);
//   - handlers/<last folder of CodeUri> (this repository's layout: CodeUri names the bundle folder);
//   - <CodeUri>/<Handler's module> (any SAM app: `CodeUri: onconnect/`, `Handler: app.handler`);
// each with the first extension of .ts, .mts, .cts, .js, .mjs, .cjs that exists.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
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
  Conditions?: Record<string, unknown>;
  Metadata?: Record<string, any>;
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
  /** Absolute path of the source to bundle: the first of entryCandidates that exists, else the first. */
  entry: string;
  /** Where the source was looked for, in order (one path with Metadata.BuildEntry). */
  entryCandidates: string[];
  entryExists: boolean;
  /** True when `entry` came from Metadata (BuildEntry or SAM's esbuild EntryPoints) rather than CodeUri. */
  entryFromMetadata: boolean;
  /** Which rule named the source: Metadata.BuildEntry, SAM's esbuild metadata, or CodeUri + Handler. */
  entryFrom: 'BuildEntry' | 'esbuild' | 'CodeUri';
  /** `Metadata: { Splitting: true }`: the build puts what dynamic import()s reach in chunks/, loaded on first use (build.ts). */
  splitting: boolean;
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
  /** The function's `Role`, as written (an execution role of the template's, instead of Policies). */
  role: unknown;
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
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`No template at ${absolute}: ws-outbox reads a SAM template (template.yaml in the working folder by default; pass --template <file> for another)`);
    }
    throw new Error(`Cannot read the template ${absolute}: ${(error as Error).message}`);
  }
  const template = parseTemplate(text, absolute);
  origins.set(template, dirname(absolute));
  return template;
};

/** The folder relative paths in the template resolve from (the loaded file's folder, else cwd). */
export const templateRoot = (template: Template): string => origins.get(template) ?? process.cwd();

export const resourcesOfType = (template: Template, ...types: string[]): Array<[string, Resource]> =>
  Object.entries(template.Resources).filter(([, r]) => r !== null && typeof r === 'object' && types.includes(r.Type));

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

const number = (value: unknown, fallback: number, what: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
};

/** The source extensions a handler file may have, in the order they are looked for. */
export const handlerExtensions = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

const withExtensions = (path: string): string[] => (/\.[cm]?[jt]s$/.test(path) ? [path] : handlerExtensions.map((ext) => `${path}${ext}`));

/**
 * Where a function's source is looked for, in order, as paths relative to the template's folder
 * (see the top of this file). `from` says which rule gave them.
 */
const splittingOf = (logicalId: string, resource: Resource): boolean => {
  const value = (resource.Metadata as Record<string, unknown> | undefined)?.Splitting;
  if (value !== undefined && typeof value !== 'boolean') throw new Error(`${logicalId}: Metadata.Splitting must be true or false, got ${JSON.stringify(value)}`);
  return value === true;
};

const entryCandidates = (logicalId: string, resource: Resource, codeUri: string, handlerModule: string): { paths: string[]; from: FunctionSpec['entryFrom'] } => {
  const metadata = resource.Metadata ?? {};
  const buildEntry = metadata.BuildEntry;
  if (buildEntry !== undefined) {
    if (typeof buildEntry !== 'string' || buildEntry === '') throw new Error(`${logicalId}: Metadata.BuildEntry must be a path to a .ts file`);
    return { paths: [buildEntry], from: 'BuildEntry' };
  }
  const folder = codeUri.replace(/[\\/]+$/, '');
  if (metadata.BuildMethod === 'esbuild') {
    // sam build: EntryPoints relative to CodeUri (the one named like the Handler's module when
    // there are several), or else the Handler's module; .ts, then .js, when no extension is given.
    const points: unknown[] = Array.isArray(metadata.BuildProperties?.EntryPoints) ? metadata.BuildProperties.EntryPoints : [];
    const named = points.filter((p): p is string => typeof p === 'string');
    const base = (p: string) => basename(p).replace(/\.[cm]?[jt]s$/, '');
    const point = named.find((p) => base(p) === basename(handlerModule)) ?? named[0] ?? handlerModule;
    return { paths: withExtensions(join(folder, point)), from: 'esbuild' };
  }
  return {
    paths: [...withExtensions(`handlers/${basename(folder)}`), ...withExtensions(join(folder, handlerModule))],
    from: 'CodeUri',
  };
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
    const { paths, from } = entryCandidates(logicalId, resource, codeUri, handlerModule);
    const candidates = paths.map((path) => (isAbsolute(path) ? path : resolve(root, path)));
    const entry = candidates.find((path) => existsSync(path));
    return {
      logicalId,
      codeUri,
      handler: String(handler),
      handlerModule,
      handlerExport,
      entry: entry ?? candidates[0]!,
      entryCandidates: candidates,
      entryExists: entry !== undefined,
      entryFromMetadata: from !== 'CodeUri',
      entryFrom: from,
      splitting: splittingOf(logicalId, resource),
      runtime: p.Runtime ?? globals.Runtime,
      architectures: p.Architectures ?? globals.Architectures ?? ['x86_64'],
      // SAM's own defaults: 3 s and 128 MB.
      timeout: number(p.Timeout ?? globals.Timeout, 3, `${logicalId}: Timeout`),
      memorySize: number(p.MemorySize ?? globals.MemorySize, 128, `${logicalId}: MemorySize`),
      environment: { ...(globals.Environment?.Variables ?? {}), ...(p.Environment?.Variables ?? {}) },
      policies: Array.isArray(p.Policies) ? p.Policies : p.Policies === undefined ? [] : [p.Policies],
      role: p.Role ?? globals.Role,
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

const tableSpec = ([logicalId, resource]: [string, Resource]): TableSpec => {
  const properties = resource.Properties ?? {};
  const ttl = properties.TimeToLiveSpecification;
  return { logicalId, properties, ttlAttribute: ttl?.Enabled === true ? ttl.AttributeName : undefined };
};

/** Every AWS::DynamoDB::Table of the template, in template order. */
export const tablesOf = (template: Template): TableSpec[] => resourcesOfType(template, 'AWS::DynamoDB::Table').map(tableSpec);

/** The template's one DynamoDB table (for templates that must have exactly one). */
export const tableOf = (template: Template): TableSpec => {
  const tables = tablesOf(template);
  if (tables.length !== 1) throw new Error(`Expected exactly one AWS::DynamoDB::Table in the template, found ${tables.length}`);
  return tables[0]!;
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
  // A resource with no local stand-in (a Cognito user pool, say) is referred to by its logical id.
  for (const id of Object.keys(template.Resources)) refs[id] = id;
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    if (parameter?.Default !== undefined) refs[name] = String(parameter.Default);
  }
  const resolved = { ...refs, ...overrides };
  // Conditions are evaluated once, from the parameters as they stand locally, and kept beside
  // them (as `Condition::<name>`), so Fn::If resolves with the refs alone.
  for (const name of Object.keys(template.Conditions ?? {})) {
    resolved[`${conditionPrefix}${name}`] = String(evaluateCondition(name, template.Conditions!, resolved, []));
  }
  return resolved;
};

const conditionPrefix = 'Condition::';

const evaluateCondition = (name: string, conditions: Record<string, unknown>, refs: Record<string, string>, path: string[]): boolean => {
  if (path.includes(name)) throw new Error(`Condition ${name} refers to itself (${[...path, name].join(' → ')})`);
  if (!(name in conditions)) throw new Error(`Condition ${name} is not defined in Conditions`);
  const evaluate = (expression: unknown, at: string): boolean => {
    const [key, arg] = Object.entries((expression ?? {}) as Record<string, unknown>)[0] ?? [];
    const list = Array.isArray(arg) ? arg : [];
    if (key === 'Condition') return evaluateCondition(String(arg), conditions, refs, [...path, name]);
    if (key === 'Fn::Equals') {
      const [a, b] = list.map((v, i) => String(resolveIntrinsics(v, refs, `${at}.Fn::Equals[${i}]`)));
      return a === b;
    }
    if (key === 'Fn::Not') return !evaluate(list[0], `${at}.Fn::Not`);
    if (key === 'Fn::And') return list.every((c, i) => evaluate(c, `${at}.Fn::And[${i}]`));
    if (key === 'Fn::Or') return list.some((c, i) => evaluate(c, `${at}.Fn::Or[${i}]`));
    throw new Error(`Cannot evaluate ${key ?? JSON.stringify(expression)} at ${at} (supported: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)`);
  };
  return evaluate(conditions[name], `Conditions.${name}`);
};

const lookup = (name: string, refs: Record<string, string>, at: string): string => {
  const value = refs[name];
  if (value === undefined) throw new Error(`Cannot resolve ${name} at ${at}: pass it in refs (e.g. { ${JSON.stringify(name)}: '…' })`);
  return value;
};

// What `!Ref AWS::NoValue` resolves to: the property (or list item) is dropped.
const noValue = Symbol('AWS::NoValue');

/**
 * Replaces Ref, Fn::Sub (string or [string, vars]), Fn::GetAtt, Fn::Join and Fn::If in `value`
 * using `refs` (see localRefs, which also holds the template's conditions). Anything else it meets
 * is an error naming where: locally there is no CloudFormation to evaluate imports.
 */
export const resolveIntrinsics = (value: unknown, refs: Record<string, string>, at = '$'): any => {
  const resolved = resolveValue(value, refs, at);
  return resolved === noValue ? undefined : resolved;
};

const resolveValue = (value: unknown, refs: Record<string, string>, at: string): any => {
  if (Array.isArray(value)) return value.map((v, i) => resolveValue(v, refs, `${at}[${i}]`)).filter((v) => v !== noValue);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Ref' && arg === 'AWS::NoValue') return noValue;
  if (entries.length === 1 && key === 'Ref') return lookup(String(arg), refs, at);
  if (entries.length === 1 && key === 'Fn::If') {
    const [condition, whenTrue, whenFalse] = Array.isArray(arg) ? arg : [];
    const holds = refs[`${conditionPrefix}${String(condition)}`];
    if (holds === undefined) throw new Error(`Fn::If at ${at} names condition ${String(condition)}, which the template's Conditions do not define`);
    return resolveValue(holds === 'true' ? whenTrue : whenFalse, refs, `${at}.Fn::If`);
  }
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
    throw new Error(`Cannot resolve ${key} at ${at} locally (supported: Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If)`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveValue(v, refs, `${at}.${k}`)]).filter(([, v]) => v !== noValue));
};

/** A function's environment as Lambda would see it: every value resolved and a string. */
export const resolveEnvironment = (fn: FunctionSpec, refs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(fn.environment)
    .map(([name, value]) => [name, resolveIntrinsics(value, refs, `${fn.logicalId}.Environment.Variables.${name}`)])
    // `!Ref AWS::NoValue` (through Fn::If) leaves the variable unset, as CloudFormation does.
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [name, String(value)]));

/**
 * `--parameter-overrides` as SAM CLI takes it: `Key=Value` pairs separated by spaces, values
 * optionally quoted (`Stage="dev" Name='a b'`), or CloudFormation's
 * `ParameterKey=Key,ParameterValue=Value` form. Several arguments are read in order.
 */
export const parseParameterOverrides = (args: string | string[]): Record<string, string> => {
  const result: Record<string, string> = {};
  const text = Array.isArray(args) ? args.join(' ') : args;
  // A token: runs of unquoted non-space text and quoted strings, glued together.
  const tokens = text.match(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g) ?? [];
  const unquote = (value: string) => value.replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_, dq: string | undefined, sq: string | undefined) =>
    dq !== undefined ? dq.replace(/\\(.)/g, '$1') : sq!);
  for (const token of tokens) {
    const long = /^ParameterKey=([^,]+),ParameterValue=(.*)$/s.exec(token);
    const [key, value] = long ? [long[1]!, long[2]!] : [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)];
    if (!token.includes('=') || !/^[A-Za-z0-9]+$/.test(unquote(key))) {
      throw new Error(`--parameter-overrides: expected Key=Value (or ParameterKey=Key,ParameterValue=Value), got ${JSON.stringify(token)}`);
    }
    result[unquote(key)] = unquote(value);
  }
  return result;
};
