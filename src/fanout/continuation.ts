import { retryableKinds } from '../management/transport.ts';
import { bodyOf, bytesOf, maxMessageBytes, type FanoutMessage } from './message.ts';

/** A failure worth handing on: it may well succeed later (everything but 403, 413 and client errors). */
export const isTransient = (reason: string): boolean => reason === 'deadline' || retryableKinds.has(reason as never);

/** Where a worker left its shard: the cursor after the last page it handed to the engine, or done. */
export interface ShardProgress {
  cursor: string | undefined;
  done: boolean;
}

/**
 * The messages that carry an unfinished shard on: the first one from the new cursor with the
 * first retries, then as many retries-only messages as their ids need (each under SQS's size).
 * A continuation is a new message, with a fresh receive count: a shard that keeps making progress
 * never reaches the dead-letter queue; one that stops making progress does.
 */
export const continuationsOf = (message: FanoutMessage, progress: ShardProgress, retry: string[]): FanoutMessage[] => {
  const { cursor: _cursor, done: _done, ids: _ids, ...rest } = message;
  const base: FanoutMessage = { ...rest, hop: message.hop + 1 };
  const from: Pick<FanoutMessage, 'cursor' | 'done'> = progress.done ? { done: true } : progress.cursor === undefined ? {} : { cursor: progress.cursor };
  const messages: FanoutMessage[] = [];
  let remaining = retry;
  let first = true;
  while (first || remaining.length > 0) {
    const head: FanoutMessage = first ? { ...base, ...from } : { ...base, done: true };
    // As many ids as fit: halve the chunk until the body is small enough.
    let take = Math.min(remaining.length, 5000);
    while (take > 0 && bytesOf(bodyOf({ ...head, ids: remaining.slice(0, take) })) > maxMessageBytes) take = Math.floor(take / 2);
    if (take === 0 && !first) throw new Error("a fan-out continuation cannot carry even one id under SQS's message size (payload too large)");
    messages.push(take > 0 ? { ...head, ids: remaining.slice(0, take) } : head);
    remaining = remaining.slice(take);
    first = false;
  }
  // Nothing left to read and nothing to retry: no continuation at all.
  return messages.filter((m) => !(m.done && (m.ids?.length ?? 0) === 0));
};
