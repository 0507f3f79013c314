import type { Page } from './store.ts';

export interface ShardPage extends Page {
  shard: number;
}

type Step = { shard: number; step: IteratorResult<Page> };

/**
 * Pages of several shards, read `concurrency` shards at a time, each one page ahead: as a page is
 * handed over, the Query for the next page of that shard is already on its way, so the consumer
 * (the delivery) rarely waits for DynamoDB. Pages come in the order they arrive; within a shard,
 * in order. Memory: at most `concurrency` pages waiting.
 *
 * A page read ahead but not handed over yet is dropped when the consumer stops early: its shard's
 * position is the `cursor` of the last page handed over, which is what a spill records.
 */
export async function* readShards(read: (shard: number) => AsyncIterable<Page>, shards: readonly number[], concurrency: number): AsyncGenerator<ShardPage> {
  const active = new Map<number, { iterator: AsyncIterator<Page>; pending: Promise<Step> }>();
  let next = 0;
  const advance = (shard: number, iterator: AsyncIterator<Page>): Promise<Step> => {
    const pending = iterator.next().then((step) => ({ shard, step }));
    pending.catch(() => undefined); // raced below; a rejection surfaces there, not as unhandled
    return pending;
  };
  const fill = () => {
    while (active.size < concurrency && next < shards.length) {
      const shard = shards[next++]!;
      const iterator = read(shard)[Symbol.asyncIterator]();
      active.set(shard, { iterator, pending: advance(shard, iterator) });
    }
  };
  try {
    fill();
    while (active.size > 0) {
      const { shard, step } = await Promise.race([...active.values()].map((a) => a.pending));
      const reader = active.get(shard)!;
      if (step.done) {
        active.delete(shard);
        fill();
        continue;
      }
      if (step.value.cursor !== undefined) {
        // Read ahead before handing this page over: the next Query overlaps the delivery of this one.
        reader.pending = advance(shard, reader.iterator);
      } else {
        // The shard's last page: its slot goes to the next shard at once.
        active.delete(shard);
        void Promise.resolve(reader.iterator.return?.()).catch(() => undefined);
        fill();
      }
      yield { shard, ids: step.value.ids, ...(step.value.cursor === undefined ? {} : { cursor: step.value.cursor }) };
    }
  } finally {
    // Readers still running are abandoned (their Query is aborted by the caller's signal).
    for (const { iterator } of active.values()) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
