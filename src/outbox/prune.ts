import type { RemoveResult, Store } from '../store/store.ts';
import type { UnprunedConnection } from '../types.ts';
import { raceAbort } from './abortable.ts';
import type { DeliveryOutcome } from './deliver.ts';

export interface PruneOptions {
  /** Aborts at the budget's prune instant. */
  signal: AbortSignal;
  /** Rows younger than this may belong to a connection whose $connect is still running. */
  connectGraceMs: number;
  now?: () => number;
}

export interface PruneResult {
  pruned: number;
  unpruned: UnprunedConnection[];
  /** The first store error met, for the log. */
  error?: unknown;
}

/**
 * Removes what the delivery found gone (410) or closed itself (DeleteConnection), within the
 * budget. What it leaves is reported; $disconnect or TTL removes it later.
 *
 * A 410 only proves a connection gone once its $connect has returned: API Gateway answers 410
 * until then, and the app's $connect writes the row before it returns. So gone ids whose row is
 * younger than the grace (or not found yet) are kept. Ids we closed ourselves are removed whatever
 * their age.
 */
export const prune = async (
  store: Store,
  outcome: Pick<DeliveryOutcome, 'gone' | 'closed' | 'goneRooms'> & Partial<Pick<DeliveryOutcome, 'goneUsers'>>,
  options: PruneOptions,
): Promise<PruneResult> => {
  const now = options.now ?? Date.now;
  const closed = new Set(outcome.closed);
  const gone = new Set(outcome.gone.filter((id) => !closed.has(id)));
  const result: PruneResult = { pruned: 0, unpruned: [] };
  const run = async (ids: Set<string>, keepConnectedAfter: number | undefined): Promise<void> => {
    if (ids.size === 0) return;
    let removed: RemoveResult;
    // What the store says it has removed so far: if we stop waiting, the report still says what was done.
    const done = new Set<string>();
    try {
      // The race is for a store that ignores the signal: it must not hold the invocation.
      removed = await raceAbort(
        store.remove(ids, {
          rooms: outcome.goneRooms,
          users: outcome.goneUsers,
          signal: options.signal,
          keepConnectedAfter,
          onRemoved: (removedIds) => {
            for (const id of removedIds) done.add(id);
          },
        }),
        options.signal,
      );
    } catch (error) {
      result.error ??= options.signal.aborted ? undefined : error;
      const reason = options.signal.aborted ? 'deadline' : 'store';
      result.pruned += done.size;
      for (const connectionId of ids) if (!done.has(connectionId)) result.unpruned.push({ connectionId, reason });
      return;
    }
    result.pruned += removed.connections;
    result.unpruned.push(...removed.left);
    result.error ??= removed.error;
  };
  await Promise.all([run(gone, now() - options.connectGraceMs), run(closed, undefined)]);
  return result;
};
