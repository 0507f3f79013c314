import type { Spill } from '../fanout/spill.ts';
import type { Store } from '../store/store.ts';
import type { UnresolvedEntry } from '../types.ts';
import { abortable } from './abortable.ts';
import { Dedupe } from './dedupe.ts';
import type { Entry } from './outbox.ts';

/** One unit of delivery work: a PostToConnection or a DeleteConnection for one connection. */
export type Task = { op: 'post'; id: string; payload: Uint8Array; room?: string; user?: string } | { op: 'delete'; id: string };

export interface ExpandOptions {
  /** Aborts at the flush's deadline: from then on nothing more is read from the store. */
  signal: AbortSignal;
  /** Room, user and "all" entries that could not be read to the end are pushed here. */
  unresolved: UnresolvedEntry[];
  /** When set, room and "all" entries past its threshold (or past the read budget) go to the fan-out queue. */
  spill?: Spill;
}

/**
 * Expands the outbox entries into tasks, in enqueue order and lazily: room and "all" recipients are
 * pulled from the store a page at a time as the delivery pool asks for more, so memory follows the
 * concurrency, not the recipient count. A store entry that fails or runs out of time is reported
 * as unresolved and the entries after it still go out (the caller's own reply among them).
 */
export async function* tasksOf(entries: Entry[], store: Store | undefined, options: ExpandOptions): AsyncGenerator<Task> {
  const { signal, unresolved, spill } = options;
  const dedupe = new Dedupe(entries);
  for (const [index, entry] of entries.entries()) {
    dedupe.begin(entry);
    if (entry.kind === 'disconnect') {
      yield { op: 'delete', id: entry.id };
    } else if (entry.kind === 'ids') {
      for (const id of entry.ids) if (dedupe.first(entry.payload, id)) yield { op: 'post', id, payload: entry.payload };
    } else {
      const room = entry.kind === 'room' ? entry.room : undefined;
      const user = entry.kind === 'user' ? entry.userId : undefined;
      const unresolvedEntry = (reason: UnresolvedEntry['reason'], reached: number, error?: unknown): UnresolvedEntry => ({
        target: entry.kind,
        ...(room === undefined ? {} : { room }),
        ...(user === undefined ? {} : { userId: user }),
        reason,
        ...(error === undefined ? {} : { error: String((error as Error)?.message ?? error) }),
        reached,
      });
      // A user's connections are a handful (its tabs and devices): a toUser() is never spilled.
      if (entry.kind !== 'user' && spill?.covers(entry)) {
        // Read here up to the threshold (and the read budget), handed to the fan-out queue beyond.
        for await (const id of spill.read(entry, index, signal, () => dedupe.reachedElsewhere(entry.payload))) {
          if (entry.except.has(id) || !dedupe.first(entry.payload, id)) continue;
          yield room === undefined ? { op: 'post', id, payload: entry.payload } : { op: 'post', id, payload: entry.payload, room };
        }
        continue;
      }
      // Past the deadline an entry is reported, not read just to count its members as failures.
      if (signal.aborted) {
        unresolved.push(unresolvedEntry('deadline', 0));
        continue;
      }
      if (store === undefined) {
        unresolved.push(unresolvedEntry('store', 0, 'no connection store'));
        continue;
      }
      let reached = 0;
      try {
        const ids = room !== undefined ? store.members(room, { signal }) : user !== undefined ? store.connectionsOf(user, { signal }) : store.all({ signal });
        for await (const id of abortable(ids, signal)) {
          reached++;
          if (entry.except.has(id) || !dedupe.first(entry.payload, id)) continue;
          // The room or user it came through goes along, so a 410 can prune that row even when the
          // connection item does not list it.
          yield { op: 'post', id, payload: entry.payload, ...(room === undefined ? {} : { room }), ...(user === undefined ? {} : { user }) };
        }
      } catch (error) {
        unresolved.push(signal.aborted ? unresolvedEntry('deadline', reached) : unresolvedEntry('store', reached, error));
      }
    }
  }
}
