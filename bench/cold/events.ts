// The first event each cold contender gets: what API Gateway (or SQS) hands the function.
import { coldConnectionId } from './stubs.ts';

const requestContext = (routeKey: string, eventType: 'CONNECT' | 'MESSAGE') => ({
  routeKey,
  eventType,
  messageId: 'cold-m',
  extendedRequestId: 'cold-x',
  requestTime: new Date().toUTCString(),
  messageDirection: 'IN',
  stage: 'cold',
  connectedAt: Date.now() - 60_000,
  requestTimeEpoch: Date.now(),
  requestId: 'cold-r',
  domainName: 'abcd123456.execute-api.us-east-1.amazonaws.com',
  connectionId: coldConnectionId,
  apiId: 'abcd123456',
  // What the $connect authorizer put there, as API Gateway passes it on (strings).
  authorizer: { principalId: 'user-1', name: 'alice', broadcast: 'false' },
});

export const coldEvents = (options: { token: string; connectionsEndpoint: string }): Record<string, unknown> => ({
  message: {
    requestContext: requestContext('send', 'MESSAGE'),
    body: JSON.stringify({ action: 'send', room: 'lobby', text: 'hello' }),
    isBase64Encoded: false,
  },
  connect: {
    requestContext: requestContext('$connect', 'CONNECT'),
    isBase64Encoded: false,
    headers: { Host: 'abcd123456.execute-api.us-east-1.amazonaws.com' },
  },
  authorize: {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abcd123456/cold/$connect',
    queryStringParameters: { token: options.token },
    headers: {},
    requestContext: { ...requestContext('$connect', 'CONNECT'), authorizer: undefined },
  },
  fanout: {
    Records: [
      {
        messageId: 'cold-sqs-1',
        receiptHandle: 'cold-receipt',
        eventSource: 'aws:sqs',
        awsRegion: 'us-east-1',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:cold-fanout',
        attributes: { ApproximateReceiveCount: '1' },
        messageAttributes: {},
        md5OfBody: '',
        body: JSON.stringify({
          v: 1,
          id: 'cold-r#0',
          target: 'room',
          room: 'lobby',
          payload: '{"type":"message","text":"hello"}',
          encoding: 'utf8',
          endpoint: options.connectionsEndpoint,
          hop: 1,
        }),
      },
    ],
  },
});
