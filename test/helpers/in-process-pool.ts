import { randomUUID } from 'node:crypto';
import type { InvokeOutcome } from '../../packages/gateway/src/function-pool.ts';

type Handler = (event: never, context: never) => Promise<unknown>;

/**
 * A handler invoked in this process, with a Lambda-like context whose deadline is `timeoutMs`
 * away: what the event source mapping needs of a function pool, for integration tests that play
 * the real poller against the real SQS without building bundles. (The gateway tests run the
 * bundles in frozen worker processes instead.)
 */
export const inProcessPool = (name: string, handler: Handler, options: { timeoutMs?: number } = {}) => {
  const invocations: { requestId: string; event: unknown; outcome: InvokeOutcome }[] = [];
  return {
    name,
    invocations,
    async invoke(event: unknown): Promise<InvokeOutcome> {
      const requestId = randomUUID();
      const started = Date.now();
      const deadline = started + (options.timeoutMs ?? 30_000);
      const context = {
        awsRequestId: requestId,
        functionName: name,
        functionVersion: '$LATEST',
        memoryLimitInMB: '1769',
        invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
        logGroupName: `/aws/lambda/${name}`,
        logStreamName: 'local',
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      let outcome: InvokeOutcome;
      try {
        outcome = {
          status: 'ok',
          requestId,
          result: JSON.parse(JSON.stringify((await handler(event as never, context as never)) ?? null)),
          durationMs: Date.now() - started,
        };
      } catch (error) {
        outcome = {
          status: 'error',
          requestId,
          error: { errorType: (error as Error).name, errorMessage: (error as Error).message },
          durationMs: Date.now() - started,
        };
      }
      invocations.push({ requestId, event, outcome });
      return outcome;
    },
  };
};
