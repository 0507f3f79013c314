// One awaited PostToConnectionCommand after another, through a default client.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Contender, ContenderOptions } from './types.ts';

export const createSequential = ({ endpoint, region }: ContenderOptions): Contender => {
  const client = new ApiGatewayManagementApiClient({ endpoint, region });
  return {
    async broadcast(ids, body) {
      let sent = 0,
        gone = 0,
        failed = 0;
      for (const id of ids) {
        try {
          await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: body }));
          sent++;
        } catch (error) {
          if ((error as { name?: string }).name === 'GoneException') gone++;
          else failed++;
        }
      }
      return { sent, gone, failed };
    },
    close: () => client.destroy(),
  };
};
