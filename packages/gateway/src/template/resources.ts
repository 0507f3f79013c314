// Queues and tables: AWS::SQS::Queue (with its dead-letter queue) and AWS::DynamoDB::Table, and the
// CreateTable input for a table.
import { resourcesOfType } from './load.ts';
import { targetOf } from './api.ts';
import { positiveNumber as number } from './values.ts';
import type { QueueSpec, Resource, TableSpec, Template } from './types.ts';

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

const tableSpec = ([logicalId, resource]: [string, Resource]): TableSpec => {
  const properties = resource.Properties ?? {};
  const ttl = properties.TimeToLiveSpecification;
  return { logicalId, properties, ttlAttribute: ttl?.Enabled === true ? ttl.AttributeName : undefined };
};

// SAM's AWS::Serverless::SimpleTable as the AWS::DynamoDB::Table it becomes: a hash key
// (PrimaryKey, default `id` of type String), on demand unless ProvisionedThroughput is given.
const simpleTableSpec = ([logicalId, resource]: [string, Resource]): TableSpec => {
  const p = resource.Properties ?? {};
  const key = p.PrimaryKey ?? { Name: 'id', Type: 'String' };
  const types: Record<string, string> = { String: 'S', Number: 'N', Binary: 'B' };
  const type = types[String(key.Type)];
  if (typeof key.Name !== 'string' || type === undefined) {
    throw new Error(`${logicalId}: PrimaryKey must be { Name: <attribute>, Type: String | Number | Binary }, got ${JSON.stringify(key)}`);
  }
  const properties: Record<string, any> = {
    AttributeDefinitions: [{ AttributeName: key.Name, AttributeType: type }],
    KeySchema: [{ AttributeName: key.Name, KeyType: 'HASH' }],
    ...(p.ProvisionedThroughput === undefined ? { BillingMode: 'PAY_PER_REQUEST' } : { ProvisionedThroughput: p.ProvisionedThroughput }),
    ...(p.TableName === undefined ? {} : { TableName: p.TableName }),
  };
  return { logicalId, properties, ttlAttribute: undefined };
};

/** Every AWS::DynamoDB::Table and AWS::Serverless::SimpleTable of the template, in template order. */
export const tablesOf = (template: Template): TableSpec[] =>
  resourcesOfType(template, 'AWS::DynamoDB::Table', 'AWS::Serverless::SimpleTable').map((entry) =>
    entry[1].Type === 'AWS::Serverless::SimpleTable' ? simpleTableSpec(entry) : tableSpec(entry),
  );

/** The resource types that are DynamoDB tables (what `!Ref` gives the table name of). */
export const tableTypes = ['AWS::DynamoDB::Table', 'AWS::Serverless::SimpleTable'];

/** The template's one DynamoDB table (for templates that must have exactly one). */
export const tableOf = (template: Template): TableSpec => {
  const tables = tablesOf(template);
  if (tables.length !== 1)
    throw new Error(`Expected exactly one AWS::DynamoDB::Table (or AWS::Serverless::SimpleTable) in the template, found ${tables.length}`);
  return tables[0]!;
};

/** The table properties CreateTable takes. */
const createTableKeys = ['AttributeDefinitions', 'KeySchema', 'BillingMode', 'ProvisionedThroughput', 'GlobalSecondaryIndexes', 'LocalSecondaryIndexes'];

/**
 * A CreateTable input for the table under a local name, its values passed through `resolve`
 * (intrinsics, e.g. `ReadCapacityUnits: !Ref Param`). Only the keys CreateTable takes:
 * TimeToLiveSpecification is a separate UpdateTimeToLive call (which dynalite lacks), and
 * streams, encryption and tags mean nothing locally.
 */
export const createTableInput = (table: TableSpec, tableName: string, resolve: (value: unknown, at: string) => unknown = (v) => v): Record<string, unknown> => {
  const input: Record<string, unknown> = { TableName: tableName };
  for (const key of createTableKeys)
    if (table.properties[key] !== undefined) input[key] = resolve(table.properties[key], `${table.logicalId}.Properties.${key}`);
  // CloudFormation hands capacities over as the numbers the schema says, whatever a parameter's
  // `!Ref` (always a string) gave; DynamoDB wants numbers.
  const capacities = (throughput: unknown) =>
    throughput !== null && typeof throughput === 'object'
      ? Object.fromEntries(Object.entries(throughput).map(([k, v]) => [k, /CapacityUnits$/.test(k) ? Number(v) : v]))
      : throughput;
  if (input.ProvisionedThroughput !== undefined) input.ProvisionedThroughput = capacities(input.ProvisionedThroughput);
  if (Array.isArray(input.GlobalSecondaryIndexes)) {
    input.GlobalSecondaryIndexes = input.GlobalSecondaryIndexes.map((index: Record<string, unknown>) =>
      index.ProvisionedThroughput === undefined ? index : { ...index, ProvisionedThroughput: capacities(index.ProvisionedThroughput) },
    );
  }
  return input;
};
