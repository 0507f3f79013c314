// Deadlines for work that is not ours to trust: a store, a transport or an onReport callback that
// ignores its AbortSignal (or hangs before it looks at it) must still not outlive the flush.

/** A signal that aborts at an epoch-ms instant (at once if it has passed); `clear` frees its timer. */
export const abortAt = (at: number, now: () => number = Date.now): { signal: AbortSignal; clear: () => void } => {
  const controller = new AbortController();
  const ms = at - now();
  if (ms <= 0) {
    controller.abort(deadlineError());
    return { signal: controller.signal, clear: () => undefined };
  }
  const timer = setTimeout(() => controller.abort(deadlineError()), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
};

const deadlineError = (): Error => Object.assign(new Error('the flush deadline passed'), { name: 'TimeoutError' });

/** Rejects with the signal's reason once it aborts (never resolves otherwise). */
export const whenAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** `promise`, or a rejection with the signal's reason if the signal aborts first. */
export const raceAbort = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> => {
  if (signal.aborted) {
    promise.catch(() => undefined); // abandoned: its late rejection must not go unhandled
    return Promise.reject(signal.reason);
  }
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => {
    signal.removeEventListener('abort', onAbort);
    promise.catch(() => undefined);
  });
};

/**
 * The values of an async iterable until the signal aborts. A `next()` that hangs is abandoned at
 * the abort, and nothing more is asked of the source afterwards.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (true) {
      const step = await raceAbort(iterator.next(), signal);
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // return() on a generator still stuck in next() would wait for it; fire and forget.
    if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
