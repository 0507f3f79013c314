// The dedupe rule's memory: bounded by the ids the handler listed explicitly, not by the rooms.
import { describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Outbox } from '../../../src/outbox/outbox.ts';
import { tasksOf, type Task } from '../../../src/outbox/recipients.ts';
import type { Store } from '../../../src/store/store.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** A room of `size` members whose ids are made as they are read, so the store itself holds nothing. */
const generatedRoom = (size: number): Store =>
  ({
    members: async function* () {
      for (let i = 0; i < size; i++) yield `member-${i.toString(36).padStart(8, '0')}`;
    },
  }) as unknown as Store;

describe('dedupe memory', () => {
  it('toRoom(r, m) + send(self, m) to a 500,000-member room adds < 5 MiB of heap', async () => {
    const size = 500_000;
    const self = `member-${(size - 1).toString(36).padStart(8, '0')}`; // the last member read
    const box = new Outbox({ connectionId: self, storeAvailable: true });
    const message = { type: 'message', room: 'big', text: 'hello' };
    box.toRoom('big', message);
    box.send(self, message);
    const entries = box.close();
    const unresolved: never[] = [];
    const tasks = tasksOf(entries, generatedRoom(size), { signal: new AbortController().signal, unresolved });

    const before = heapAfterGc();
    let count = 0;
    let last: Task | undefined;
    let grown = 0;
    for await (const task of tasks) {
      count++;
      last = task;
      // Measured while the expansion holds its dedupe state, right after the whole room was read.
      if (count === size) grown = heapAfterGc() - before;
    }
    expect(count).toBe(size); // self got the message once, through the room
    expect(last?.id).toBe(self);
    if (process.env.SHOW_HEAP) console.log(`heap grown: ${(grown / 1048576).toFixed(2)} MiB`);
    expect(grown).toBeLessThan(5 * 1024 * 1024);
  }, 60_000);
});
