// The embedded dynalite must stop cleanly under load. dynalite closes its database once its HTTP
// server has closed, and throws "Database is closed" from a callback (killing the process: in CI,
// the Jest worker) when that happens under a request it is still answering. stop() therefore
// lets every request dynalite has begun to answer finish before it closes the sockets.
import http from 'node:http';
import { expect, it } from '@jest/globals';
import { startDynamo } from '../../src/dynamodb.ts';

const table = {
  definition: {
    TableName: 'stop-table',
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  },
};

it('stop() waits for a request dynalite has begun to answer, then closes', async () => {
  const dynamo = await startDynamo({ port: 0, tables: [table as never] });
  const body = JSON.stringify({ TableName: 'stop-table', Item: { pk: { S: 'in-flight' } } });
  const status = new Promise<number>((resolve, reject) => {
    const req = http.request(
      `${dynamo.endpoint}/`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.PutItem',
          'x-amz-date': '20261127T000000Z',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    // Headers and half the body now: dynalite has the request. The rest after stop() is called.
    req.write(body.slice(0, 20));
    setTimeout(() => {
      stopped = dynamo.stop();
      setTimeout(() => req.end(body.slice(20)), 50);
    }, 50);
  });
  let stopped: Promise<void> | undefined;
  expect(await status).toBe(200);
  await stopped;
  // And it is closed: a new connection is refused.
  await expect(fetch(`${dynamo.endpoint}/`)).rejects.toThrow();
});
