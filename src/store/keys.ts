// One table, two item kinds. Both directions of membership are kept so that a room is one Query
// and a connection's rooms come back with its own item (BatchGetItem, 100 at a time, when pruning):
//   connection  pk = "connections#<k>"  sk = <connectionId>   ttl, connectedAt, name?, rooms (string set)
//   membership  pk = "room#<room>"       sk = <connectionId>   ttl
// k = shardOf(connectionId, K) (shards.ts). Every live connection is one Query per shard: no Scan.
import { connectionShards, shardOf } from './shards.ts';

export const connectionsPartition = (shard: number) => `connections#${shard}`;
export const roomPartition = (room: string) => `room#${room}`;

/** The key of a connection's row: its shard comes from the id alone. */
export const connectionKey = (connectionId: string, shards: number = connectionShards()) => ({
  pk: connectionsPartition(shardOf(connectionId, shards)),
  sk: connectionId,
});
export const membershipKey = (room: string, connectionId: string) => ({ pk: roomPartition(room), sk: connectionId });

export const nowSeconds = (now: number) => Math.floor(now / 1000);
