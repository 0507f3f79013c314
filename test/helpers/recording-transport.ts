import { TransportError, type DeliveryFailure, type Transport } from '../../src/management/transport.ts';

export type Outcome = 'ok' | DeliveryFailure['kind'] | 'hang';

/**
 * An in-memory Transport whose answer per id (and attempt) is scripted. For unit tests of the
 * engine; the integration tests use the real SDK over HTTP instead.
 */
export const scriptedTransport = (script: (id: string, attempt: number) => Outcome) => {
  const attempts = new Map<string, number>();
  const posts: { id: string; body: Uint8Array }[] = [];
  const deletes: string[] = [];
  const succeeded: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const statusOf: Partial<Record<DeliveryFailure['kind'], number>> = { gone: 410, throttled: 429, server: 500, forbidden: 403, 'too-large': 413 };
  const answer = async (id: string, signal: AbortSignal): Promise<void> => {
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    const outcome = script(id, n);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      // A request the flush cut (its deadline) is not delivered, as with a real transport that
      // aborts on the signal; on a loaded machine the cut can land while this one waits its turn.
      if (signal?.aborted && outcome !== 'hang') throw new TransportError({ kind: 'timeout', name: 'AbortError', message: 'aborted' });
      if (outcome === 'ok') return void succeeded.push(id);
      if (outcome === 'hang') return await new Promise<never>(() => undefined); // ignores the signal on purpose
      throw new TransportError({ kind: outcome, status: statusOf[outcome], name: outcome, message: outcome });
    } finally {
      inFlight--;
    }
  };
  const transport: Transport = {
    post: async (id, body, signal) => {
      posts.push({ id, body });
      await answer(id, signal);
    },
    delete: async (id, signal) => {
      deletes.push(id);
      await answer(id, signal);
    },
    destroy: () => undefined,
  };
  return { transport, posts, deletes, succeeded, attempts, maxInFlight: () => maxInFlight };
};
