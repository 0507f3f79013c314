// DynamoDB: the embedded dynalite with the template's tables, behind the IAM front on its own
// loopback port (DYNAMODB_PORT) and, for the functions, at DynamoDB's AWS host name.
import type { AppModel } from '../app-model.ts';
import { createDynamoFront } from '../dynamodb-front.ts';
import { startDynamo } from '../dynamodb.ts';
import type { HostCheck } from '../host-check.ts';
import type { IamCheck } from '../iam/check.ts';
import type { Logger } from '../log.ts';
import { closeServer, listen, serverFor } from './http.ts';
import type { GatewayService } from './service.ts';

export interface DynamoService extends GatewayService {
  /** http://host:port of the front, for tools and tests. */
  endpoint: string;
}

export const startDynamoService = async (options: {
  model: AppModel;
  host: string;
  port: number;
  awsHost: string;
  region: string;
  accountId: string;
  iam: IamCheck;
  log: Logger;
  hostCheck: HostCheck;
}): Promise<DynamoService> => {
  const dynamo = await startDynamo({ host: '127.0.0.1', port: 0, tables: options.model.tables, region: options.region });
  const front = createDynamoFront({ upstream: dynamo.endpoint, iam: options.iam, region: options.region, accountId: options.accountId });
  const server = serverFor('DynamoDB front', front.handle, options.log, options.hostCheck);
  const stop = async () => {
    await closeServer(server);
    front.close();
    await dynamo.stop();
  };
  let port: number;
  try {
    port = await listen(server, options.port, options.host, 'DYNAMODB_PORT', 'DynamoDB port');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'DynamoDB',
    endpoint: `http://${options.host}:${port}`,
    hosts: [{ host: options.awsHost, handler: front.handle, plainPort: port }],
    restartReason: (next, previous) => (JSON.stringify(next.tables) !== JSON.stringify(previous.tables) ? 'the tables changed' : undefined),
    stop,
  };
};
