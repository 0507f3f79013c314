// The gateway's DynamoDB endpoint: a proxy in front of dynalite that does what DynamoDB's front
// door does before the table is touched, the IAM check. It reads the operation from X-Amz-Target
// and the tables from the body (TableName, RequestItems, TransactItems, IndexName), asks the IAM
// check (iam/check.ts) whether the signing function may do it, and answers a refusal as DynamoDB
// does (400 AccessDeniedException with AWS's message); anything allowed goes to dynalite as is.
import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { IamCheck } from './iam/check.ts';

export interface DynamoFrontOptions {
  /** dynalite's own endpoint, http://127.0.0.1:<port>. */
  upstream: string;
  iam: IamCheck;
  region: string;
  accountId: string;
}

interface Access {
  action: string;
  resources: string[];
}

export const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });

const transactActions: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/** Each (action, resource) the request needs, as IAM checks them; undefined for a body that is not JSON (dynalite answers it). */
export const accessesOf = (operation: string, body: any, tableArn: (name: string) => string): Access[] | undefined => {
  if (body === null || typeof body !== 'object') return undefined;
  const arn = (name: unknown, index?: unknown) => `${tableArn(String(name))}${typeof index === 'string' ? `/index/${index}` : ''}`;
  const action = `dynamodb:${operation}`;
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return [{ action, resources: Object.keys(body.RequestItems ?? {}).map((name) => arn(name)) }];
    case 'TransactGetItems':
    case 'TransactWriteItems':
      return (Array.isArray(body.TransactItems) ? body.TransactItems : []).flatMap((item: Record<string, any>) =>
        Object.entries(item ?? {})
          .filter(([kind]) => transactActions[kind])
          .map(([kind, op]) => ({
            action: `dynamodb:${transactActions[kind]}`,
            resources: [arn(op?.TableName)],
          })),
      );
    case 'ListTables':
      return [{ action, resources: [tableArn('*')] }];
    default:
      return typeof body.TableName === 'string' ? [{ action, resources: [arn(body.TableName, body.IndexName)] }] : [{ action, resources: [tableArn('*')] }];
  }
};

const deny = (res: ServerResponse, type: string, message: string) => {
  const text = JSON.stringify({ __type: `com.amazon.coral.service#${type}`, Message: message });
  res
    .writeHead(400, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-RequestId': randomUUID(),
    })
    .end(text);
};

/**
 * Sends a request, body already read, on to the local server behind a front; `onError` answers
 * when that server cannot be reached. `rewrite`, when given, changes the answer's body (read whole).
 */
export const createForwarder =
  (upstream: URL, agent: Agent, onError: (res: ServerResponse, error: Error) => void) =>
  (req: IncomingMessage, res: ServerResponse, body: Buffer, rewrite?: (answer: string) => string): void => {
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (answer) => {
      if (rewrite === undefined) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      readBody(answer).then(
        (raw) => {
          const text = Buffer.from(rewrite(raw.toString('utf8')), 'utf8');
          const answerHeaders = { ...answer.headers, 'content-length': String(text.length) };
          delete answerHeaders['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, answerHeaders).end(text);
        },
        (error: Error) => onError(res, error),
      );
    });
    out.on('error', (error) => onError(res, error));
    out.end(body);
  };

// What dynalite serves (its index.js): these API versions and operations, on POST, with these content types.
const apiVersions = new Set(['DynamoDB_20111205', 'DynamoDB_20120810']);
const operations = new Set([
  'BatchGetItem',
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DeleteTable',
  'DescribeTable',
  'DescribeTimeToLive',
  'GetItem',
  'ListTables',
  'PutItem',
  'Query',
  'Scan',
  'TagResource',
  'UntagResource',
  'ListTagsOfResource',
  'UpdateItem',
  'UpdateTable',
]);
const contentTypes = new Set(['application/json', 'application/x-amz-json-1.0']);

/** A request body as both servers read it (JSON.parse of the UTF-8 text), when it is a JSON object; else why not. */
export const jsonObjectOf = (body: Buffer): { object: Record<string, unknown> } | { refused: string } => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { refused: 'the body is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { refused: 'the body is not a JSON object' };
  return { object: parsed as Record<string, unknown> };
};

/** The operation and body as dynalite reads them, or why it would not run it. */
export const dynamoRequestOf = (req: Pick<IncomingMessage, 'method' | 'headers'>, body: Buffer): { operation: string; body: unknown } | { refused: string } => {
  if (req.method !== 'POST') return { refused: `${req.method} is not a DynamoDB operation (POST)` };
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (!contentTypes.has(type)) return { refused: `content type ${JSON.stringify(type)} (DynamoDB takes application/x-amz-json-1.0)` };
  const target = String(req.headers['x-amz-target'] ?? '').split('.');
  if (target.length !== 2 || !apiVersions.has(target[0]!) || !operations.has(target[1]!)) {
    return { refused: `unknown operation ${JSON.stringify(req.headers['x-amz-target'] ?? '')} (not one the local DynamoDB serves)` };
  }
  const json = jsonObjectOf(body);
  return 'refused' in json ? json : { operation: target[1]!, body: json.object };
};

export const createDynamoFront = (opts: DynamoFrontOptions) => {
  const upstream = new URL(opts.upstream);
  const agent = new Agent({ keepAlive: true });
  const tableArn = (name: string) => (name.startsWith('arn:') ? name : `arn:aws:dynamodb:${opts.region}:${opts.accountId}:table/${name}`);

  const forward = createForwarder(upstream, agent, (res, error) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `local DynamoDB: ${error.message}` }));
  });

  return {
    handle: async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const body = await readBody(req);
      const request = dynamoRequestOf(req, body);
      if ('refused' in request) {
        if (opts.iam.refuse(req, 'DynamoDB', request.refused))
          return deny(res, 'UnknownOperationException', `The local DynamoDB front refused this request: ${request.refused}`);
        return forward(req, res, body);
      }
      for (const { action, resources } of accessesOf(request.operation, request.body, tableArn) ?? []) {
        const verdict = opts.iam(req, action, resources);
        if (verdict.kind === 'denied') return deny(res, 'AccessDeniedException', verdict.message);
        if (verdict.kind === 'unsigned') {
          return verdict.signed
            ? deny(res, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
            : deny(res, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
        }
      }
      forward(req, res, body);
    },
    close: () => agent.destroy(),
  };
};
