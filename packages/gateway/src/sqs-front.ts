// The gateway's SQS endpoint, as the functions see it: `sqs.<region>.amazonaws.com`, unmodified
// (the egress hook sends it here, over the TLS front). Like the DynamoDB front, it does what SQS's
// front door does before a queue is touched, the IAM check, on the request **as the embedded SQS
// (fauxqs) will read it**: a check that reads a request one way while the server reads it another
// is no check. fauxqs takes SQS's JSON protocol on `POST /` (content type application/x-amz-json-1.0),
// the action as X-Amz-Target with its first `AmazonSQS.` removed, and the queue as the last
// non-empty `/` segment of QueueUrl after its scheme and host (a query string included), in the
// region its host names. Anything else it serves (form-encoded SNS and STS, S3 on any path, its own
// `/_fauxqs/...` inspection, /health) is not SQS to a function and is refused, as is an action it
// does not know. The queue URLs it answers with (GetQueueUrl, CreateQueue, ListQueues) name its own
// host and account, which a function cannot reach: they are given back as the AWS URLs `!Ref Queue` gives.
import { partition } from '@aws-sdk/core/client';
import { randomUUID } from 'node:crypto';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { createForwarder, jsonObjectOf, readBody } from './dynamodb-front.ts';
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
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** The SQS actions the embedded SQS serves (fauxqs's router); any other is refused before it. */
export const sqsActions = new Set([
  'CreateQueue',
  'DeleteQueue',
  'GetQueueUrl',
  'ListQueues',
  'GetQueueAttributes',
  'SetQueueAttributes',
  'PurgeQueue',
  'SendMessage',
  'ReceiveMessage',
  'DeleteMessage',
  'SendMessageBatch',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'TagQueue',
  'UntagQueue',
  'ListQueueTags',
]);

/** The queue a QueueUrl names for fauxqs: the last non-empty segment after scheme and host (query string and all), in the region its `sqs.<region>.` host names. */
export const queueOfUrl = (queueUrl: string): { name: string | undefined; region: string | undefined } => ({
  name: queueUrl
    .replace(/^https?:\/\/[^/]+/, '')
    .split('/')
    .filter(Boolean)
    .pop(),
  region: /^https?:\/\/sqs\.([^.]+)\./.exec(queueUrl)?.[1],
});

/**
 * The IAM action and queue ARN a request needs: the queue from its QueueUrl, or from its QueueName
 * (GetQueueUrl, CreateQueue); a request that names no queue (ListQueues) is checked on `*`.
 */
export const sqsAccessOf = (
  operation: string,
  queueUrl: unknown,
  queueArn: (name: string, region?: string) => string,
  queueName?: unknown,
): { action: string; resource: string } => {
  const action = `sqs:${batchActions[operation] ?? operation}`;
  if (typeof queueUrl !== 'string' || queueUrl === '') {
    return { action, resource: queueArn(typeof queueName === 'string' && queueName !== '' ? queueName : '*') };
  }
  const { name, region } = queueOfUrl(queueUrl);
  return { action, resource: queueArn(name ?? '*', region) };
};

/** The action, QueueUrl and QueueName as fauxqs reads them, or why it would not read it as an SQS request. */
export const sqsRequestOf = (
  req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>,
  body: Buffer,
): { operation: string; queueUrl: unknown; queueName: unknown } | { refused: string } => {
  const path = (req.url ?? '').split('?')[0];
  if (req.method !== 'POST' || path !== '/') return { refused: `${req.method} ${path} is not an SQS request (SQS takes POST /)` };
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/x-amz-json-1.0')
    return { refused: `content type ${JSON.stringify(type)}: the local SQS speaks SQS's JSON protocol only (application/x-amz-json-1.0)` };
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string') return { refused: 'no X-Amz-Target' };
  const operation = target.replace('AmazonSQS.', '');
  if (!target.startsWith('AmazonSQS.') || !sqsActions.has(operation)) return { refused: `unknown action ${JSON.stringify(target)}` };
  const json = jsonObjectOf(body);
  if ('refused' in json) return json;
  return { operation, queueUrl: json.object.QueueUrl, queueName: json.object.QueueName };
};

/** Operations whose answer holds queue URLs. */
const answersWithUrls = new Set(['GetQueueUrl', 'CreateQueue', 'ListQueues', 'ListDeadLetterSourceQueues']);

/** The embedded SQS's own queue URLs in `text`, as the AWS URLs functions use (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
export const awsQueueUrls = (text: string, accountId: string): string =>
  text.replace(
    /https?:\/\/sqs\.([a-z0-9-]+)\.localhost(?::\d+)?\/\d{12}\//g,
    (_, region: string) => `https://sqs.${region}.${partition(region).dnsSuffix}/${accountId}/`,
  );

const deny = (res: ServerResponse, type: string, message: string) => {
  const text = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message });
  res
    .writeHead(400, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-RequestId': randomUUID(),
      'x-amzn-query-error': `${type};Sender`,
    })
    .end(text);
};

export const createSqsFront = (opts: SqsFrontOptions) => {
  const agent = new Agent({ keepAlive: true });
  const queueArn = (name: string, region = opts.region) => `arn:aws:sqs:${region}:${opts.accountId}:${name}`;
  const forward = createForwarder(new URL(opts.upstream), agent, (res, error) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: `local SQS: ${error.message}` }));
  });
  return {
    handle: async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const body = await readBody(req);
      const request = sqsRequestOf(req, body);
      if ('refused' in request) {
        if (opts.iam.refuse(req, 'SQS', request.refused))
          return deny(res, 'AccessDeniedException', `The local SQS front refused this request: ${request.refused}`);
        return forward(req, res, body);
      }
      const { operation, queueUrl, queueName } = request;
      const { action, resource } = sqsAccessOf(operation, queueUrl, queueArn, queueName);
      const verdict = opts.iam(req, action, [resource]);
      if (verdict.kind === 'denied') return deny(res, 'AccessDeniedException', verdict.message);
      if (verdict.kind === 'unsigned') {
        return verdict.signed
          ? deny(res, 'InvalidClientTokenId', 'The security token included in the request is invalid.')
          : deny(res, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
      }
      forward(req, res, body, answersWithUrls.has(operation) ? (answer) => awsQueueUrls(answer, opts.accountId) : undefined);
    },
    close: () => agent.destroy(),
  };
};
