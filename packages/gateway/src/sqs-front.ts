// The gateway's SQS endpoint, as the functions see it: `sqs.<region>.amazonaws.com`, unmodified
// (the egress hook sends it here, over the TLS front). Like the DynamoDB front, it does what SQS's
// front door does before a queue is touched, the IAM check: the operation from X-Amz-Target (the
// JSON protocol) or the Action field (the older query protocol), the queue from QueueUrl, as the
// ARN the template's policies name (`!GetAtt Queue.Arn`). Anything allowed goes to the embedded
// SQS as is: it finds a queue by the region and name in its URL, whatever the host and account.
// The queue URLs it answers with (GetQueueUrl, CreateQueue, ListQueues) name its own host and
// account, which a function cannot reach: they are given back as the AWS URLs `!Ref Queue` gives.
import { partition } from '@aws-sdk/core/client';
import { randomUUID } from 'node:crypto';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { createForwarder, readBody } from './dynamodb-front.ts';
import type { IamCheck } from './iam/check.ts';

export interface SqsFrontOptions {
  /** The embedded SQS's own endpoint, http://127.0.0.1:<port>. */
  upstream: string;
  iam: IamCheck;
  region: string;
  accountId: string;
}

// IAM has one action for an operation and its batch form.
const batchActions: Record<string, string> = {
  SendMessageBatch: 'SendMessage', DeleteMessageBatch: 'DeleteMessage', ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/**
 * The IAM action and queue ARN a request needs: the queue from its QueueUrl, or from its QueueName
 * (GetQueueUrl, CreateQueue); a request that names no queue (ListQueues) is checked on `*`.
 */
export const sqsAccessOf = (operation: string, queueUrl: unknown, queueArn: (name: string) => string, queueName?: unknown): { action: string; resource: string } => {
  const action = `sqs:${batchActions[operation] ?? operation}`;
  if (typeof queueUrl !== 'string' || queueUrl === '') {
    return { action, resource: queueArn(typeof queueName === 'string' && queueName !== '' ? queueName : '*') };
  }
  const name = queueUrl.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? '*';
  return { action, resource: queueArn(name) };
};

/** The operation, QueueUrl and QueueName of a request in either of SQS's protocols. */
const requestOf = (req: IncomingMessage, body: Buffer): { operation: string; queueUrl: unknown; queueName: unknown } => {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    let parsed: any;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    return { operation: target.split('.').pop() ?? '', queueUrl: parsed?.QueueUrl, queueName: parsed?.QueueName };
  }
  const form = new URLSearchParams(body.toString('utf8'));
  return { operation: form.get('Action') ?? '', queueUrl: form.get('QueueUrl') ?? undefined, queueName: form.get('QueueName') ?? undefined };
};

/** Operations whose answer holds queue URLs. */
const answersWithUrls = new Set(['GetQueueUrl', 'CreateQueue', 'ListQueues', 'ListDeadLetterSourceQueues']);

/** The embedded SQS's own queue URLs in `text`, as the AWS URLs functions use (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
export const awsQueueUrls = (text: string, accountId: string): string =>
  text.replace(/https?:\/\/sqs\.([a-z0-9-]+)\.localhost(?::\d+)?\/\d{12}\//g, (_, region: string) => `https://sqs.${region}.${partition(region).dnsSuffix}/${accountId}/`);

const deny = (res: ServerResponse, type: string, message: string) => {
  const text = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message });
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID(),
    'x-amzn-query-error': `${type};Sender`,
  }).end(text);
};

export const createSqsFront = (opts: SqsFrontOptions) => {
  const agent = new Agent({ keepAlive: true });
  const queueArn = (name: string) => `arn:aws:sqs:${opts.region}:${opts.accountId}:${name}`;
  const forward = createForwarder(new URL(opts.upstream), agent, (res, error) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: `local SQS: ${error.message}` }));
  });
  return {
    handle: async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const body = await readBody(req);
      const { operation, queueUrl, queueName } = requestOf(req, body);
      if (operation) {
        const { action, resource } = sqsAccessOf(operation, queueUrl, queueArn, queueName);
        const verdict = opts.iam(req, action, [resource]);
        if (verdict.kind === 'denied') return deny(res, 'AccessDeniedException', verdict.message);
        if (verdict.kind === 'unsigned') {
          return verdict.signed
            ? deny(res, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
            : deny(res, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
        }
      }
      forward(req, res, body, answersWithUrls.has(operation) ? (answer) => awsQueueUrls(answer, opts.accountId) : undefined);
    },
    close: () => agent.destroy(),
  };
};
