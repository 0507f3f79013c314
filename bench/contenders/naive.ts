// The broadcast everyone writes first: one PostToConnectionCommand per id, all at once, through a
// default client (SDK retries on, maxSockets 50, no timeouts). The body is serialized once, which
// flatters naive code a little.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Contender, ContenderOptions } from './types.ts';

export const createNaive = ({ endpoint, region }: ContenderOptions): Contender => {
  const client = new ApiGatewayManagementApiClient({ endpoint, region });
  return {
    async broadcast(ids, body) {
      const results = await Promise.allSettled(ids.map((id) => client.send(new PostToConnectionCommand({ ConnectionId: id, Data: body }))));
      let sent = 0,
        gone = 0,
        failed = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') sent++;
        else if ((r.reason as { name?: string }).name === 'GoneException') gone++;
        else failed++;
      }
      return { sent, gone, failed };
    },
    close: () => client.destroy(),
  };
};
