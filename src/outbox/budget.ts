/**
 * One time budget for the whole flush. Lambda gives the invocation `getRemainingTimeInMillis()`;
 * the flush (store reads, sends, retries, the prune and onReport) ends `safetyMarginMs` before
 * that, so the response can still leave. Inside the budget the phases get their own instants:
 *
 *   start ─reads, sends─▶ readsUntil ─sends─▶ attemptsUntil ─in flight─▶ requestsUntil ─prune─▶ pruneUntil ─onReport─▶ end
 *
 * `reserveMs` (at most half the budget, for short ones) is kept back from store reads, in four
 * equal parts: for what is queued behind a read that hung (the caller's reply, say) to still go
 * out, for the requests in flight to end, for the prune, and for onReport. A phase that finishes
 * early leaves its time to the next one.
 */
export interface Budget {
  start: number;
  /** No store read starts after this, and one in progress is aborted. */
  readsUntil: number;
  /** No new attempt starts after this; what is left fails as `deadline`. */
  attemptsUntil: number;
  /** Requests still in flight are cut off here. */
  requestsUntil: number;
  /** The prune stops starting batches (and waiting for them) here. */
  pruneUntil: number;
  /** onReport is abandoned here; the flush has ended. */
  end: number;
}

export const planBudget = (start: number, remainingMs: number, options: { safetyMarginMs: number; reserveMs: number }): Budget => {
  const end = start + Math.max(0, remainingMs - options.safetyMarginMs);
  const reserve = Math.min(options.reserveMs, (end - start) / 2);
  return {
    start,
    readsUntil: end - reserve,
    attemptsUntil: end - (reserve * 3) / 4,
    requestsUntil: end - reserve / 2,
    pruneUntil: end - reserve / 4,
    end,
  };
};
