// A ws-outbox transport alone (signed or sdk), under the same bounded pool as raw: isolates the
// transport's cost from the engine's (retries, timers, report, pruning).
import { createSdkTransport } from '../../src/management/sdk-transport.ts';
import { createSignedTransport } from '../../src/management/signed-transport.ts';
import { TransportError } from '../../src/management/transport.ts';
import { forEachBounded } from '../lib/pool.ts';
import type { Contender, ContenderOptions } from './types.ts';

const factories = { signed: createSignedTransport, sdk: createSdkTransport };

export const createTransportOnly =
  (kind: keyof typeof factories) =>
  ({ endpoint, region, concurrency }: ContenderOptions): Contender => {
    // The same settings the outbox passes by default.
    const transport = factories[kind]({ endpoint, region, maxSockets: concurrency, requestTimeoutMs: 2_000, connectionTimeoutMs: 1_000 });
    const signal = new AbortController().signal;
    return {
      async broadcast(ids, body) {
        let sent = 0,
          gone = 0,
          failed = 0;
        await forEachBounded(ids, concurrency, async (id) => {
          try {
            await transport.post(id, body, signal);
            sent++;
          } catch (error) {
            if (error instanceof TransportError && error.failure.kind === 'gone') gone++;
            else failed++;
          }
        });
        return { sent, gone, failed };
      },
      close: () => transport.destroy(),
    };
  };
