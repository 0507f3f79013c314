// Runs `task` over `items` with at most `concurrency` in flight: a fixed set of workers pulling
// the next index, so memory stays O(concurrency) whatever the item count. (The store's batches
// and the benchmarks share it.)
export const forEachBounded = async <T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
};
