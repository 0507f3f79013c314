// A busy DynamoDB or SQS port stops the start with an error naming the variable that moves it, and
// stops what it had started.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { startGateway } from '../../src/gateway.ts';

let blocker: Server;
let busyPort: number;
beforeAll(async () => {
  blocker = createServer();
  busyPort = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
});
afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

// The example's template has a queue (the fan-out's), so both fronts start.
const template = 'template.yaml';

describe('a busy service port', () => {
  test('DynamoDB: names DYNAMODB_PORT', async () => {
    await expect(startGateway({ template, port: 0, dynamodbPort: busyPort, sqsPort: 0, quiet: true })).rejects.toThrow(
      `DynamoDB port ${busyPort} is in use: set DYNAMODB_PORT to a free port`,
    );
  }, 60_000);

  test('SQS: names SQS_PORT; with the port free the same start succeeds', async () => {
    await expect(startGateway({ template, port: 0, dynamodbPort: 0, sqsPort: busyPort, quiet: true })).rejects.toThrow(
      `SQS port ${busyPort} is in use: set SQS_PORT to a free port`,
    );
    const gateway = await startGateway({ template, port: 0, dynamodbPort: 0, sqsPort: 0, quiet: true });
    await gateway.stop();
  }, 60_000);
});
