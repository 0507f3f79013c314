// The shapes the template readers return: a template as parsed, and the specs of its functions,
// event sources, queues and tables.

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
  /** As written, e.g. `dist/send/` (empty for InlineCode). */
  codeUri: string;
  /** SAM's InlineCode (CloudFormation's Code.ZipFile), when the code is written in the template. */
  inlineCode: string | undefined;
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
  /** The function's SQS event sources (SAM `Events` of Type SQS, and AWS::Lambda::EventSourceMapping resources naming it). */
  sqsEvents: SqsEventSpec[];
  /** The function's Metadata, as written (SAM's build settings: BuildMethod, BuildProperties, …). */
  metadata: Record<string, any>;
  /**
   * True when the source came from this project's own build rules (Metadata.BuildEntry, or
   * handlers/<CodeUri's last folder>): `ws-outbox build` makes its code, as the Makefile does for sam build.
   */
  ownBuild: boolean;
}

/** A function the gateway does not run (an Image function, another language), and what that means locally. */
export interface SkippedFunction {
  logicalId: string;
  why: string;
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
