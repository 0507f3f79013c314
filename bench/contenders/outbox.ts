// ws-outbox as users run it: a wsHandler whose handler broadcasts, invoked with a MESSAGE event
// and a Lambda-like context. The endpoint comes from AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI
// (the sink), exactly as in a deployment with an endpoint override.
import { wsHandler } from '../../src/index.ts';
import type { DeliveryReport } from '../../src/index.ts';
import { destroyTransports } from '../../src/transport.ts';
import type { Contender, ContenderOptions } from './types.ts';

let invocations = 0;

/** A MESSAGE event as API Gateway sends it for `{"action":"send",...}`. */
export const messageEvent = (connectionId: string) => ({
  requestContext: {
    routeKey: 'send',
    eventType: 'MESSAGE' as const,
    messageId: `m${invocations}`,
    extendedRequestId: `x${invocations}`,
    requestTime: new Date().toUTCString(),
    messageDirection: 'IN' as const,
    stage: 'bench',
    connectedAt: Date.now(),
    requestTimeEpoch: Date.now(),
    requestId: `r${invocations}`,
    domainName: 'abcd123456.execute-api.us-east-1.amazonaws.com',
    connectionId,
    apiId: 'abcd123456',
  },
  body: JSON.stringify({ action: 'send', text: 'bench' }),
  isBase64Encoded: false,
});

export const lambdaContext = () => ({
  awsRequestId: `req-${++invocations}`,
  functionName: 'bench',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
  memoryLimitInMB: '128',
  logGroupName: '/aws/lambda/bench',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: false,
  // A generous deadline: the bench measures delivery, not the deadline logic.
  getRemainingTimeInMillis: () => 300_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
});

export const createOutbox =
  (transport: 'sdk' | 'signed') =>
  (options: ContenderOptions): Contender => {
    let report: DeliveryReport | undefined;
    let recipients: readonly string[] = [];
    let payload: Uint8Array = new Uint8Array();
    const handler = wsHandler(
      async (_event, context) => {
        context.outbox.broadcast(recipients, payload);
        return { statusCode: 200 };
      },
      {
        store: false,
        transport,
        onReport: (r) => {
          report = r;
        },
        logger: false,
        ...(options.explicitConcurrency === undefined ? {} : { concurrency: options.explicitConcurrency }),
      },
    );
    return {
      async broadcast(ids, body) {
        recipients = ids;
        payload = body;
        report = undefined;
        await handler(messageEvent('conn-sender') as never, lambdaContext() as never);
        if (!report) throw new Error('no delivery report');
        const r = report as DeliveryReport;
        return { sent: r.sent, gone: r.gone.length, failed: r.failed.length };
      },
      close: () => destroyTransports(),
    };
  };
