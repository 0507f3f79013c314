// What the local gateway needs to know about a SAM template: the WebSocket API's routes and route
// selection expression, each function's runtime settings and resolved environment, and the
// DynamoDB table to create. The template is read by src/local/template.ts (the same reader
// build.mjs uses); this module only resolves it to local values, so everything downstream (pool,
// gateway, invoke) works from plain data, never from YAML.
import {
  createTableInput, functionsOf, loadTemplate, localRefs, queuesOf, resolveEnvironment, routeSelectionExpression,
  routesOf, tableOf, type FunctionSpec, type QueueSpec, type Template,
} from './template.ts';

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
  /** The template's SQS queues (created in the local SQS by the gateway). */
  queues: QueueSpec[];
}

/** A queue as the local SQS named it: what `!Ref`, `!GetAtt .Arn` and `!GetAtt .QueueName` resolve to. */
export interface QueueRef {
  name: string;
  url: string;
  arn: string;
}

export interface ModelOptions {
  region: string;
  accountId: string;
  apiId: string;
  stage: string;
  /** Template parameter overrides (like `sam --parameter-overrides`). */
  parameters: Record<string, string>;
  /** The queues as the local SQS created them, by logical id (else URLs of the default local SQS port). */
  queues?: Map<string, QueueRef>;
}

export const modelDefaults: ModelOptions = {
  region: 'us-east-1', accountId: '123456789012', apiId: 'localapi01', stage: 'local', parameters: {},
};

const hasApi = (template: Template): boolean => Object.values(template.Resources)
  .some((r) => r?.Type === 'AWS::Serverless::WebSocketApi' || r?.Type === 'AWS::ApiGatewayV2::Api');

/**
 * The local value of every name a template can refer to: the table by its local name (the
 * logical id, or TableName when given), functions by their logical ids, the API by the local
 * api id, the stage parameter by the local stage, ARNs shaped like the real ones.
 */
const refsFor = (template: Template, opts: ModelOptions, tableName: string | undefined): Record<string, string> => {
  const { region, accountId } = opts;
  const overrides: Record<string, string> = {
    'AWS::Region': region, 'AWS::AccountId': accountId, ...opts.parameters,
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r?.Type === 'AWS::DynamoDB::Table') {
      const name = tableName ?? id;
      overrides[id] = name;
      overrides[`${id}.Arn`] = `arn:aws:dynamodb:${region}:${accountId}:table/${name}`;
      overrides[`${id}.StreamArn`] = `arn:aws:dynamodb:${region}:${accountId}:table/${name}/stream/local`;
    } else if (r?.Type === 'AWS::Serverless::Function' || r?.Type === 'AWS::Lambda::Function') {
      overrides[id] = id;
      overrides[`${id}.Arn`] = `arn:aws:lambda:${region}:${accountId}:function:${id}`;
    } else if (r?.Type === 'AWS::SQS::Queue') {
      const name = typeof r.Properties?.QueueName === 'string' ? r.Properties.QueueName : id;
      const queue = opts.queues?.get(id)
        ?? { name, url: `http://sqs.${region}.localhost:9324/000000000000/${name}`, arn: `arn:aws:sqs:${region}:000000000000:${name}` };
      overrides[id] = queue.url;
      overrides[`${id}.Arn`] = queue.arn;
      overrides[`${id}.QueueName`] = queue.name;
    } else if (r?.Type === 'AWS::Serverless::WebSocketApi' || r?.Type === 'AWS::ApiGatewayV2::Api') {
      overrides[id] = opts.apiId;
      overrides[`${id}.ApiEndpoint`] = `wss://${opts.apiId}.execute-api.${region}.amazonaws.com`;
      // The stage the API is deployed to is the gateway's stage, whatever parameter names it.
      const stageRef = r.Properties?.StageName?.Ref;
      if (typeof stageRef === 'string' && opts.parameters[stageRef] === undefined) overrides[stageRef] = opts.stage;
    }
  }
  return localRefs(template, overrides);
};

/** Reads a SAM template into the model the local gateway runs. Errors name what to fix. */
export const loadAppModel = (templatePath: string, options: Partial<ModelOptions> = {}): AppModel => {
  const opts = { ...modelDefaults, ...options, parameters: { ...options.parameters } };
  const template = loadTemplate(templatePath);
  const hasTable = Object.values(template.Resources).some((r) => r?.Type === 'AWS::DynamoDB::Table');
  const table = hasTable ? tableOf(template) : undefined;
  const literalName = typeof table?.properties.TableName === 'string' ? table.properties.TableName : undefined;
  const tableName = table ? literalName ?? table.logicalId : undefined;
  const refs = refsFor(template, opts, tableName);

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
  return {
    templatePath,
    template,
    routeSelectionExpression: hasApi(template) ? routeSelectionExpression(template) : '$request.body.action',
    routes: new Map(hasApi(template) ? Object.entries(routesOf(template)) : []),
    functions,
    tables: table && tableName ? [{
      logicalId: table.logicalId, tableName, definition: createTableInput(table, tableName), ttlAttribute: table.ttlAttribute,
    }] : [],
    queues: queuesOf(template),
  };
};
