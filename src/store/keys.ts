// One table, two item kinds. Both directions of membership are kept so that a room is one Query
// and a connection's rooms come back with its own item (BatchGetItem, 100 at a time, when pruning):
//   connection  pk = "connections"   sk = <connectionId>   ttl, connectedAt, name?, rooms (string set)
//   membership  pk = "room#<room>"    sk = <connectionId>   ttl
// Every live connection is one Query on the "connections" partition: no Scan anywhere.

export const connectionsPartition = 'connections';
export const roomPartition = (room: string) => `room#${room}`;

export const connectionKey = (connectionId: string) => ({ pk: connectionsPartition, sk: connectionId });
export const membershipKey = (room: string, connectionId: string) => ({ pk: roomPartition(room), sk: connectionId });

export const nowSeconds = (now: number) => Math.floor(now / 1000);
