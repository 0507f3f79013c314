import type { Entry } from './outbox.ts';

/**
 * The flush's rule for a message enqueued more than once: a connection gets each payload once, the
 * first time it comes up in enqueue order, and later repeats are dropped. Order is never changed.
 *
 * Memory is bounded by the ids the handler listed explicitly, not by the rooms: a pair
 * (payload, id) is remembered only when a later entry can repeat it, that is when the id is named
 * explicitly in a later entry with the same payload, or when a later room / "all" entry has that
 * payload. So the common `toRoom(r, m); send(self, m)` remembers one id, however large the room;
 * only two store-read entries with one payload (say a room and "all") remember the first one whole.
 */
export class Dedupe {
  // Per payload: explicit ids of entries not yet expanded, with how many such entries name them.
  readonly #explicitAhead = new Map<Uint8Array, Map<string, number>>();
  // Per payload: room and "all" entries not yet expanded.
  readonly #storeAhead = new Map<Uint8Array, number>();
  readonly #delivered = new Map<Uint8Array, Set<string>>();

  constructor(entries: readonly Entry[]) {
    for (const entry of entries) {
      if (entry.kind === 'disconnect') continue;
      if (entry.kind === 'ids') {
        const ahead = this.#explicitAhead.get(entry.payload) ?? new Map<string, number>();
        for (const id of entry.ids) ahead.set(id, (ahead.get(id) ?? 0) + 1);
        this.#explicitAhead.set(entry.payload, ahead);
      } else {
        this.#storeAhead.set(entry.payload, (this.#storeAhead.get(entry.payload) ?? 0) + 1);
      }
    }
  }

  /** Call as each entry starts expanding: from then on it is no longer "ahead". */
  begin(entry: Entry): void {
    if (entry.kind === 'disconnect') return;
    if (entry.kind !== 'ids') {
      this.#storeAhead.set(entry.payload, (this.#storeAhead.get(entry.payload) ?? 1) - 1);
      return;
    }
    const ahead = this.#explicitAhead.get(entry.payload);
    if (ahead === undefined) return;
    for (const id of entry.ids) {
      const n = (ahead.get(id) ?? 1) - 1;
      if (n > 0) ahead.set(id, n);
      else ahead.delete(id);
    }
  }

  /**
   * Ids that get `payload` (or will) in this flush outside the current entry, as far as remembered:
   * a spilled entry's workers must skip them.
   */
  reachedElsewhere(payload: Uint8Array): Set<string> {
    return new Set([...(this.#delivered.get(payload) ?? []), ...(this.#explicitAhead.get(payload)?.keys() ?? [])]);
  }

  /** True the first time `payload` comes up for `id` in this flush. */
  first(payload: Uint8Array, id: string): boolean {
    const delivered = this.#delivered.get(payload);
    if (delivered?.has(id)) return false;
    if ((this.#storeAhead.get(payload) ?? 0) > 0 || this.#explicitAhead.get(payload)?.has(id)) {
      if (delivered === undefined) this.#delivered.set(payload, new Set([id]));
      else delivered.add(id);
    }
    return true;
  }
}
