// A prune cut at its deadline reports what it did: the rows the store had deleted by then are
// `pruned`, only the rest `unpruned` (deadline), even when the store never returns.
import { describe, expect, it } from '@jest/globals';
import { prune } from '../../../src/outbox/prune.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import type { RemoveOptions, RemoveResult, Store } from '../../../src/store/store.ts';

describe('prune at its deadline', () => {
  it('reports the 2,000 rows deleted before the deadline as pruned and the other 3,000 as unpruned', async () => {
    const memory = new MemoryStore();
    const ids = Array.from({ length: 5000 }, (_, i) => `c${i}`);
    for (const id of ids) await memory.connect(id);
    // Deletes 2,000 rows (telling as it goes, batch by batch), then hangs and ignores the signal.
    const store: Store = Object.assign(Object.create(memory) as MemoryStore, {
      remove: async (connectionIds: Iterable<string>, options: RemoveOptions = {}): Promise<RemoveResult> => {
        const all = [...connectionIds];
        for (let i = 0; i < 2000; i += 25) await memory.remove(all.slice(i, i + 25), { onRemoved: options.onRemoved });
        return new Promise<RemoveResult>(() => {});
      },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await prune(store, { gone: [], closed: ids, goneRooms: new Map() }, { signal: controller.signal, connectGraceMs: 0 });
    expect(result.pruned).toBe(2000);
    expect(result.unpruned).toHaveLength(3000);
    expect(new Set(result.unpruned.map((u) => u.reason))).toEqual(new Set(['deadline']));
    expect(result.unpruned.map((u) => u.connectionId)).toEqual(ids.slice(2000));
    expect(await memory.get('c0')).toBeUndefined();
    expect(await memory.get('c2000')).toBeDefined();
  });
});
