import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionsPartition } from '../../src/store/keys.ts';
import { connectionShards } from '../../src/store/shards.ts';

/** Every row of the connection index, read straight from the table: each shard's partition to its end. */
export const connectionRows = async (db: DynamoDBDocumentClient, tableName: string, shards = connectionShards()): Promise<Record<string, unknown>[]> => {
  const rows: Record<string, unknown>[] = [];
  for (let shard = 0; shard < shards; shard++) {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const out = await db.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': connectionsPartition(shard) },
          ExclusiveStartKey,
        }),
      );
      rows.push(...(out.Items ?? []));
      ExclusiveStartKey = out.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
  return rows;
};
