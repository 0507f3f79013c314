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
