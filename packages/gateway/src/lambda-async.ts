// Lambda's asynchronous invocation (InvocationType Event): the caller has its 202 at once; the
// event waits for the function (in its pool's queue when every instance is busy, as Lambda's
// internal queue holds it) and, when the function fails or times out, is retried twice, after 1
// minute and then 2 minutes, as Lambda does by default. A failure that remains is logged (there
// is no on-failure destination or dead-letter queue locally). Retries pending at the gateway's
// stop are dropped, as an invocation still running is ended.
import { withDefaults } from 'ws-outbox/util';
import { stoppedErrorType, type InvokeOutcome } from './function-pool.ts';

export interface AsyncInvokerOptions {
  /** Lambda's default MaximumRetryAttempts. */
  retries: number;
  /** The wait before each retry (Lambda: 1 min, then 2). */
  delaysMs: number[];
}

const defaults: AsyncInvokerOptions = { retries: 2, delaysMs: [60_000, 120_000] };

export interface AsyncInvoker {
  /** Runs `attempt` until it succeeds or its retries are spent; `onAttempt` hears of every outcome with its attempt number (1-based) and whether another follows. */
  run(attempt: () => Promise<InvokeOutcome>, onAttempt: (outcome: InvokeOutcome, attempt: number, willRetry: boolean) => void): Promise<void>;
  /** Drops the retries not yet started. */
  stop(): void;
}

export const createAsyncInvoker = (options: Partial<AsyncInvokerOptions> = {}): AsyncInvoker => {
  const { retries, delaysMs } = withDefaults(defaults, options);
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let stopped = false;
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = { timer: setTimeout(() => done(), ms), resolve: () => done() };
      const done = () => {
        clearTimeout(entry.timer);
        timers.delete(entry);
        resolve();
      };
      timers.add(entry);
    });
  return {
    async run(attempt, onAttempt) {
      for (let n = 1; ; n++) {
        const outcome = await attempt();
        // The gateway's own stop ended it: not the function's failure, and nothing to retry.
        const ended = outcome.status === 'error' && outcome.error.errorType === stoppedErrorType;
        const willRetry = outcome.status !== 'ok' && !ended && !stopped && n <= retries;
        onAttempt(outcome, n, willRetry);
        if (!willRetry) return;
        await wait(delaysMs[Math.min(n - 1, delaysMs.length - 1)] ?? 0);
        if (stopped) return;
      }
    },
    stop() {
      stopped = true;
      for (const entry of [...timers]) entry.resolve();
    },
  };
};
