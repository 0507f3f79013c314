// ws-outbox's signed transport alone, under the same bounded pool as raw: isolates the
// transport's cost from the engine's (retries, report, pruning).
import { createSignedTransport } from '../../src/management/signed-transport.ts';
import { TransportError } from '../../src/management/transport.ts';
import { forEachBounded } from '../lib/pool.ts';
import type { Contender, ContenderOptions } from './types.ts';

export const createSignedOnly = ({ endpoint, region, concurrency }: ContenderOptions): Contender => {
  const transport = createSignedTransport({ endpoint, region, maxSockets: concurrency });
  const signal = new AbortController().signal;
  return {
    async broadcast(ids, body) {
      let sent = 0, gone = 0, failed = 0;
      await forEachBounded(ids, concurrency, async (id) => {
        try {
          await transport.post(id, body, signal);
          sent++;
        } catch (error) {
          if (error instanceof TransportError && error.failure.kind === 'gone') gone++; else failed++;
        }
      });
      return { sent, gone, failed };
    },
    close: () => transport.destroy(),
  };
};
