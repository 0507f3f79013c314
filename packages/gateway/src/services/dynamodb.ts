// DynamoDB: the embedded dynalite with the template's tables, behind the IAM front on its own
// loopback port (DYNAMODB_PORT) and, for the functions, at DynamoDB's AWS host name.
import { createDynamoFront } from '../dynamodb-front.ts';
import { startDynamo } from '../dynamodb.ts';
import { type FrontedServiceOptions, startFronted } from './fronted.ts';
import type { GatewayService } from './service.ts';

export interface DynamoService extends GatewayService {
  /** http://host:port of the front, for tools and tests. */
  endpoint: string;
}

export const startDynamoService = async (options: FrontedServiceOptions): Promise<DynamoService> => {
  const dynamo = await startDynamo({ host: '127.0.0.1', port: 0, tables: options.model.tables, region: options.region });
  const front = createDynamoFront({ upstream: dynamo.endpoint, iam: options.iam, region: options.region, accountId: options.accountId });
  const service = await startFronted(options, { name: 'DynamoDB', portVariable: 'DYNAMODB_PORT', server: dynamo, front });
  return {
    ...service,
    restartReason: (next, previous) => (JSON.stringify(next.tables) !== JSON.stringify(previous.tables) ? 'the tables changed' : undefined),
  };
};
