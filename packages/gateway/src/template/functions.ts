// SAM's rules for functions: Globals.Function merged in, where a function's source is (the entry
// rules), and its SQS event sources.
import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { resourcesOfType, templateRoot } from './load.ts';
import { routesOf, targetOf } from './api.ts';
import { positiveNumber as number } from './values.ts';
import { isPythonRuntime, pythonModuleFiles } from '../python/handler.ts';
import type { FunctionSpec, Resource, SkippedFunction, SqsEventSpec, Template } from './types.ts';

/** The source extensions a handler file may have, in the order they are looked for. */
export const handlerExtensions = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

const withExtensions = (path: string): string[] => (/\.[cm]?[jt]s$/.test(path) ? [path] : handlerExtensions.map((ext) => `${path}${ext}`));

/**
 * Where a function's source is looked for, in order, as paths relative to the template's folder
 * (see the top of this file). `from` says which rule gave them.
 */
const splittingOf = (logicalId: string, resource: Resource): boolean => {
  const value = (resource.Metadata as Record<string, unknown> | undefined)?.Splitting;
  if (value !== undefined && typeof value !== 'boolean')
    throw new Error(`${logicalId}: Metadata.Splitting must be true or false, got ${JSON.stringify(value)}`);
  return value === true;
};

const entryCandidates = (
  logicalId: string,
  resource: Resource,
  codeUri: string,
  handlerModule: string,
  runtime: string | undefined,
  handler: string,
): { paths: string[]; from: FunctionSpec['entryFrom'] } => {
  const metadata = resource.Metadata ?? {};
  const folder = codeUri.replace(/[\\/]+$/, '');
  // Python code runs from CodeUri as it is: the Handler's module, a file or a package.
  if (isPythonRuntime(runtime)) return { paths: pythonModuleFiles(handler).map((file) => join(folder, file)), from: 'CodeUri' };
  const buildEntry = metadata.BuildEntry;
  if (buildEntry !== undefined) {
    if (typeof buildEntry !== 'string' || buildEntry === '') throw new Error(`${logicalId}: Metadata.BuildEntry must be a path to a .ts file`);
    return { paths: [buildEntry], from: 'BuildEntry' };
  }
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

/**
 * Why a function is outside what the gateway runs (an Image function, a runtime other than Node or Python,
 * code in S3), in one line that names it and what will not work locally; undefined when it runs.
 */
const unsupportedReason = (logicalId: string, resource: Resource, globals: Record<string, any>): string | undefined => {
  const p = resource.Properties ?? {};
  const routes = 'its routes and event sources do nothing locally';
  if ((p.PackageType ?? globals.PackageType) === 'Image')
    return `${logicalId} is a container image function (PackageType: Image), which the local gateway does not run: ${routes}`;
  const runtime = p.Runtime ?? globals.Runtime;
  if (typeof runtime === 'string' && !/^nodejs\d+\.x$/.test(runtime) && !isPythonRuntime(runtime))
    return `${logicalId} runs on ${runtime}; the local gateway runs Node.js and Python functions only: ${routes}`;
  const codeUri = p.CodeUri ?? globals.CodeUri;
  if (codeUri !== undefined && typeof codeUri !== 'string')
    return `${logicalId} has its code in S3 (CodeUri is not a local folder), which the local gateway cannot fetch: ${routes}`;
  if (p.InlineCode !== undefined && typeof p.InlineCode !== 'string')
    return `${logicalId} has InlineCode written with an intrinsic function, which the local gateway does not resolve: ${routes}`;
  return undefined;
};

/** The AWS::Serverless::Function resources the gateway does not run, each with its one line. */
export const skippedFunctionsOf = (template: Template): SkippedFunction[] => {
  const globals = template.Globals?.Function ?? {};
  return resourcesOfType(template, 'AWS::Serverless::Function').flatMap(([logicalId, resource]) => {
    const why = unsupportedReason(logicalId, resource, globals);
    return why === undefined ? [] : [{ logicalId, why }];
  });
};

/**
 * One line per function the gateway runs that names Layers (its own or Globals'): they are not
 * loaded locally, so what the function imports from them must be found elsewhere.
 */
export const layerNoticesOf = (template: Template): string[] => {
  const globals = template.Globals?.Function ?? {};
  return resourcesOfType(template, 'AWS::Serverless::Function').flatMap(([logicalId, resource]) => {
    const layers = resource.Properties?.Layers ?? globals.Layers;
    if (!Array.isArray(layers) || layers.length === 0 || unsupportedReason(logicalId, resource, globals) !== undefined) return [];
    return [
      `${logicalId} has Layers, which the local gateway does not load: what it imports from them must be installed where its runtime finds it (its code folder; for Python, the python3 the gateway runs)`,
    ];
  });
};

/** Every AWS::Serverless::Function the gateway runs, with Globals.Function merged in (SAM's rules for the keys used here). */
export const functionsOf = (template: Template, options: { root?: string } = {}): FunctionSpec[] => {
  const root = options.root ?? templateRoot(template);
  const globals = template.Globals?.Function ?? {};
  const routes = Object.entries(routesOfIfAny(template));
  const mappings = eventSourceMappingsOf(template);
  return resourcesOfType(template, 'AWS::Serverless::Function')
    .filter(([id, r]) => unsupportedReason(id, r, globals) === undefined)
    .map(([logicalId, resource]) => {
      const p = resource.Properties ?? {};
      // SAM's InlineCode (CloudFormation's Code.ZipFile): the code is in the template, there is no folder.
      const inlineCode = typeof p.InlineCode === 'string' ? p.InlineCode : undefined;
      const codeUri = inlineCode === undefined ? (p.CodeUri ?? globals.CodeUri) : '';
      if (inlineCode === undefined && (typeof codeUri !== 'string' || codeUri === '')) {
        throw new Error(`${logicalId}: CodeUri must be a local folder such as dist/${logicalId.replace(/Function$/, '').toLowerCase()}/`);
      }
      const handler = p.Handler ?? globals.Handler;
      const [, handlerModule, handlerExport] = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(String(handler ?? '')) ?? [];
      if (!handlerModule || !handlerExport) {
        throw new Error(`${logicalId}: Handler must look like index.handler, got ${JSON.stringify(handler)}`);
      }
      const runtime: string | undefined = p.Runtime ?? globals.Runtime;
      const python = isPythonRuntime(runtime);
      const { paths, from } =
        inlineCode === undefined
          ? entryCandidates(logicalId, resource, codeUri, handlerModule, runtime, String(handler))
          : { paths: [], from: 'CodeUri' as const };
      const candidates = paths.map((path) => (isAbsolute(path) ? path : resolve(root, path)));
      const entry = candidates.find((path) => existsSync(path));
      const handlersRule = !python && from === 'CodeUri' && entry !== undefined && candidates.indexOf(entry) < handlerExtensions.length;
      return {
        logicalId,
        codeUri,
        handler: String(handler),
        handlerModule,
        handlerExport,
        inlineCode,
        entry: entry ?? candidates[0] ?? '',
        entryCandidates: candidates,
        entryExists: entry !== undefined || inlineCode !== undefined,
        entryFromMetadata: from !== 'CodeUri',
        entryFrom: from,
        splitting: splittingOf(logicalId, resource),
        runtime,
        architectures: p.Architectures ?? globals.Architectures ?? ['x86_64'],
        // SAM's own defaults: 3 s and 128 MB.
        timeout: number(p.Timeout ?? globals.Timeout, 3, `${logicalId}: Timeout`),
        memorySize: number(p.MemorySize ?? globals.MemorySize, 128, `${logicalId}: MemorySize`),
        environment: { ...(globals.Environment?.Variables ?? {}), ...(p.Environment?.Variables ?? {}) },
        policies: Array.isArray(p.Policies) ? p.Policies : p.Policies === undefined ? [] : [p.Policies],
        role: p.Role ?? globals.Role,
        routes: routes.filter(([, id]) => id === logicalId).map(([key]) => key),
        sqsEvents: [...sqsEventsOf(logicalId, p.Events, template), ...mappings.filter((m) => m.functionId === logicalId).map((m) => m.event)],
        metadata: resource.Metadata ?? {},
        ownBuild: from === 'BuildEntry' || handlersRule,
      };
    });
};

const sqsEventsOf = (logicalId: string, events: unknown, template: Template): SqsEventSpec[] => {
  if (events === undefined || events === null) return [];
  if (typeof events !== 'object' || Array.isArray(events)) throw new Error(`${logicalId}: Events must be a mapping`);
  return Object.entries(events as Record<string, any>)
    .filter(([, e]) => e?.Type === 'SQS')
    .map(([name, event]) => {
      const p = event.Properties ?? {};
      const at = `${logicalId}.Events.${name}`;
      const queue = targetOf(p.Queue);
      if (!queue || template.Resources[queue]?.Type !== 'AWS::SQS::Queue') {
        throw new Error(`${at}: Queue must point at an AWS::SQS::Queue of this template (!GetAtt Queue.Arn), got ${JSON.stringify(p.Queue)}`);
      }
      if (p.FunctionResponseTypes !== undefined && !Array.isArray(p.FunctionResponseTypes)) throw new Error(`${at}: FunctionResponseTypes must be a list`);
      return { name, queue, ...pollerSettings(p, at) };
    });
};

/** The poller's settings, as a SAM SQS event and an AWS::Lambda::EventSourceMapping both write them. */
const pollerSettings = (p: Record<string, any>, at: string): Omit<SqsEventSpec, 'name' | 'queue'> => {
  const types: unknown[] = Array.isArray(p.FunctionResponseTypes) ? p.FunctionResponseTypes : [];
  const concurrency = p.ScalingConfig?.MaximumConcurrency;
  return {
    batchSize: number(p.BatchSize, 10, `${at}: BatchSize`),
    batchingWindowSeconds:
      p.MaximumBatchingWindowInSeconds === undefined ? 0 : number(p.MaximumBatchingWindowInSeconds, 0, `${at}: MaximumBatchingWindowInSeconds`),
    reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
    maximumConcurrency: concurrency === undefined ? undefined : number(concurrency, 0, `${at}: ScalingConfig.MaximumConcurrency`),
    enabled: p.Enabled !== false,
  };
};

// A template without a WebSocket API (a build-only fixture) still has functions.
const routesOfIfAny = (template: Template): Record<string, string> => {
  const hasApi = resourcesOfType(template, 'AWS::Serverless::WebSocketApi', 'AWS::ApiGatewayV2::Api').length > 0;
  return hasApi ? routesOf(template) : {};
};

/**
 * AWS::Lambda::EventSourceMapping resources from a queue of the template to a function of it
 * (`FunctionName: !Ref Fn`, `EventSourceArn: !GetAtt Queue.Arn`), as SQS event sources. Mappings
 * from anything else (streams, Kafka) are not SQS sources and are left out here.
 */
const eventSourceMappingsOf = (template: Template): Array<{ functionId: string; event: SqsEventSpec }> =>
  resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').flatMap(([id, resource]) => {
    const p = resource.Properties ?? {};
    const functionId = targetOf(p.FunctionName) ?? (typeof p.FunctionName === 'string' ? p.FunctionName : undefined);
    const queue = targetOf(p.EventSourceArn);
    if (!functionId || !queue || template.Resources[queue]?.Type !== 'AWS::SQS::Queue') return [];
    return [{ functionId, event: { name: id, queue, ...pollerSettings(p, id) } }];
  });
