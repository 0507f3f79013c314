// The SQS client of the fan-out queue, in a module of its own so that queue.ts can import it on
// demand: a route spills and a worker hands a shard back rarely, and a cold function should not
// evaluate the SDK's SQS client (and its share of the SDK's core) for that (bench/README.md,
// "Cold start"). The static imports here still let esbuild keep only the two commands used.
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient };

let sharedClient: SQSClient | undefined;
/**
 * One client per process, reused across warm invocations. An empty AWS_ENDPOINT_URL_SQS (as SAM
 * templates declare it) means "not set". Given explicitly, the endpoint also stops the SDK from
 * sending to the queue URL's own host (locally, fauxqs names queues sqs.<region>.localhost).
 */
export const defaultSqsClient = (): SQSClient =>
  (sharedClient ??= new SQSClient({
    endpoint: process.env.AWS_ENDPOINT_URL_SQS || undefined,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true }),
  }));
