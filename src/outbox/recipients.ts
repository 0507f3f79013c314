import type { Store } from '../store/store.ts';
import type { Entry } from './outbox.ts';

/** One unit of delivery work: a PostToConnection or a DeleteConnection for one connection. */
export type Task = { op: 'post'; id: string; payload: Uint8Array; room?: string } | { op: 'delete'; id: string };

/**
 * Expands the outbox entries into tasks, lazily: room and "all" recipients are pulled from the store
 * a page at a time as the delivery pool asks for more, so memory follows the concurrency, not the
 * recipient count.
 */
export async function* tasksOf(entries: Entry[], store: Store | undefined): AsyncGenerator<Task> {
  // A payload reaching some ids through more than one entry (say a room and "all") must still be
  // sent once per id. Only such payloads pay for a seen-set; a lone room or "all" entry streams
  // unique ids straight from the store.
  const entriesPerPayload = new Map<Uint8Array, number>();
  for (const e of entries) if (e.kind !== 'disconnect') entriesPerPayload.set(e.payload, (entriesPerPayload.get(e.payload) ?? 0) + 1);
  const seen = new Map<Uint8Array, Set<string>>();
  const firstTime = (payload: Uint8Array, id: string): boolean => {
    if ((entriesPerPayload.get(payload) ?? 0) < 2) return true;
    let ids = seen.get(payload);
    if (ids === undefined) seen.set(payload, (ids = new Set()));
    if (ids.has(id)) return false;
    ids.add(id);
    return true;
  };

  for (const entry of entries) {
    switch (entry.kind) {
      case 'disconnect':
        yield { op: 'delete', id: entry.id };
        break;
      case 'ids':
        for (const id of entry.ids) if (firstTime(entry.payload, id)) yield { op: 'post', id, payload: entry.payload };
        break;
      case 'room':
        for await (const id of requireStore(store, 'toRoom').members(entry.room)) {
          if (!entry.except.has(id) && firstTime(entry.payload, id)) yield { op: 'post', id, payload: entry.payload, room: entry.room };
        }
        break;
      case 'all':
        for await (const id of requireStore(store, 'toAll').all()) {
          if (!entry.except.has(id) && firstTime(entry.payload, id)) yield { op: 'post', id, payload: entry.payload };
        }
        break;
    }
  }
}

const requireStore = (store: Store | undefined, method: string): Store => {
  if (store === undefined) {
    throw new Error(`outbox.${method}() needs a connection store: set TABLE_NAME, or pass { store } to wsHandler/outbox`);
  }
  return store;
};
