// The sending function of the fan-out bench, bundled and run like a function of the template (a
// frozen worker process): one toAll through the outbox. BENCH_THRESHOLD is its spill threshold
// ("off": the single-invocation path, everything from this one invocation); FANOUT_QUEUE_URL the
// queue. Its delivery report goes to stdout as the outbox logs it.
import { wsHandler } from '../src/index.ts';

const threshold = process.env.BENCH_THRESHOLD ?? 'off';

export const handler = wsHandler(
  async (event, context) => {
    // A first invocation that only loads the function, so the measured one starts warm.
    if ((event.body as { action?: string })?.action === 'warm') return { statusCode: 200 };
    context.outbox.toAll({ type: 'message', room: 'bench', from: 'conn-sender', text: 'x'.repeat(60) });
    return { statusCode: 200 };
  },
  { fanout: threshold === 'off' ? false : { threshold: Number(threshold) } },
);
