// An embedded SQS (fauxqs, in memory) on loopback, with the template's queues created from their
// definitions, dead-letter queues and redrive policies included. fauxqs was chosen by what it
// does (README, "Local development"): the JSON protocol today's SDK speaks, SendMessageBatch,
// long polling that answers as soon as a message arrives, DeleteMessageBatch, visibility timeouts,
// ChangeMessageVisibility, ApproximateReceiveCount and redrive to a dead-letter queue, and it
// installs with npm. Its own start function listens on every interface; this one binds 127.0.0.1.
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import type { AddressInfo } from 'node:net';
import { withDefaults } from 'ws-outbox/util';
import { localCredentials } from './dynamodb.ts';
import type { QueueSpec } from './template.ts';

export interface SqsOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  queues: QueueSpec[];
  region: string;
}

export interface LocalQueue {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
}

export interface LocalSqs {
  endpoint: string;
  port: number;
  /** The template's queues by logical id. */
  queues: Map<string, LocalQueue>;
  /** A client for this server (tests, the event source mappings). */
  client(): SQSClient;
  stop(): Promise<void>;
}

const defaults: SqsOptions = { host: '127.0.0.1', port: 9324, queues: [], region: 'us-east-1' };

// CloudFormation takes these as numbers (or strings); SQS as strings.
const attributeNames = ['DelaySeconds', 'MaximumMessageSize', 'MessageRetentionPeriod', 'ReceiveMessageWaitTimeSeconds', 'VisibilityTimeout'];

export const sqsClientFor = (endpoint: string, region: string): SQSClient => new SQSClient({ endpoint, region, credentials: localCredentials });

export const startSqs = async (options: Partial<SqsOptions> = {}): Promise<LocalSqs> => {
  const opts = withDefaults(defaults, options);
  const app = buildApp({ logger: false, host: 'localhost', defaultRegion: opts.region });
  try {
    await app.listen({ port: opts.port, host: opts.host });
  } catch (error) {
    await app.close();
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new Error(`SQS port ${opts.port} is in use: set SQS_PORT to a free port`) : error;
  }
  const { port } = app.server.address() as AddressInfo;
  const endpoint = `http://${opts.host}:${port}`;
  const clients: SQSClient[] = [];
  const client = () => {
    const c = sqsClientFor(endpoint, opts.region);
    clients.push(c);
    return c;
  };
  const admin = client();
  const queues = new Map<string, LocalQueue>();
  const create = async (spec: QueueSpec): Promise<LocalQueue> => {
    const done = queues.get(spec.logicalId);
    if (done) return done;
    const attributes: Record<string, string> = {};
    for (const name of attributeNames) if (spec.properties[name] !== undefined) attributes[name] = String(spec.properties[name]);
    if (spec.deadLetterQueue !== undefined) {
      const dlq = opts.queues.find((q) => q.logicalId === spec.deadLetterQueue);
      if (!dlq) throw new Error(`${spec.logicalId}: no dead-letter queue ${spec.deadLetterQueue} among the template's queues`);
      if (dlq.logicalId === spec.logicalId) throw new Error(`${spec.logicalId}: a queue cannot be its own dead-letter queue`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: (await create(dlq)).arn, maxReceiveCount: spec.maxReceiveCount ?? 10 });
    }
    // Locally a queue is named after its logical id, as the table is.
    const name = typeof spec.properties.QueueName === 'string' ? spec.properties.QueueName : spec.logicalId;
    const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await admin.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const queue = { logicalId: spec.logicalId, name, url: QueueUrl!, arn: Attributes!.QueueArn! };
    queues.set(spec.logicalId, queue);
    return queue;
  };
  try {
    for (const spec of opts.queues) await create(spec);
  } catch (error) {
    for (const c of clients) c.destroy();
    await app.close();
    throw new Error(`Cannot create the template's queues in the local SQS: ${(error as Error).message}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    queues,
    client,
    stop: () =>
      (stopped ??= (async () => {
        for (const c of clients) c.destroy();
        // Long polls still waiting are answered (empty) as the server closes.
        await app.close();
      })()),
  };
};
