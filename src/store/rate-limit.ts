// Per-key rate limits (a connection's client messages), as GCRA: the generic cell rate algorithm,
// a token bucket kept as one timestamp, the "theoretical arrival time" (tat) of the next message.
// A message at `now` is allowed when tat - now <= (burst - 1) * interval, and then
// tat = max(tat, now) + interval, where interval = 1000 / ratePerSecond ms.
//
// DynamoRateLimiter keeps tat in the table, one item per key (pk "rate#<key>", sk "rate", ttl), so
// the limit holds across every warm instance of every function. Cost, in DynamoDB write request
// units (WRU; the item is far under 1 KB):
//   - a message at a normal pace: 1 conditional UpdateItem = 1 WRU;
//   - a message inside a burst: 2 (the first condition fails, which DynamoDB still bills, then the
//     burst case succeeds);
//   - a refused message: 2 the first time, then 0 on that instance for one interval, which it
//     remembers in memory (a flood is refused locally instead of paying a write per frame).
// MemoryRateLimiter is the same algorithm in one process: for tests, and for `store: false` apps.

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClientOf, UpdateCommand, type DocumentClient } from './dynamodb/document-client.ts';
import { checkNumber } from '../options.ts';
import { defaultDocumentClient } from './connection-store.ts';
import { maxConnectionSeconds } from './store.ts';

export interface RateRule {
  /** Sustained messages per second. */
  ratePerSecond: number;
  /** Messages allowed at once after a quiet spell. */
  burst: number;
}

export interface RateVerdict {
  allowed: boolean;
  /** When refused: about how long until one more message is allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  take(key: string, rule: RateRule, now?: number): Promise<RateVerdict>;
}

export const checkRule = (rule: RateRule, what: string): RateRule => {
  checkNumber(`${what} ratePerSecond`, rule.ratePerSecond, { min: Number.MIN_VALUE });
  checkNumber(`${what} burst`, rule.burst, { min: 1, integer: true });
  return rule;
};

const intervalOf = (rule: RateRule) => 1000 / rule.ratePerSecond;
const toleranceOf = (rule: RateRule) => (rule.burst - 1) * intervalOf(rule);

/** One process's GCRA: exact there, and nothing shared with other instances. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #tat = new Map<string, number>();
  readonly #maxKeys: number;

  constructor(options: { maxKeys?: number } = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  async take(key: string, rule: RateRule, now = Date.now()): Promise<RateVerdict> {
    const tat = Math.max(this.#tat.get(key) ?? now, now);
    const early = tat - now - toleranceOf(rule);
    if (early > 0) return { allowed: false, retryAfterMs: Math.ceil(early) };
    this.#tat.set(key, tat + intervalOf(rule));
    if (this.#tat.size > this.#maxKeys) this.#sweep(now);
    return { allowed: true, retryAfterMs: 0 };
  }

  // Keys whose tat has passed are at full burst again: forgetting them changes nothing.
  #sweep(now: number): void {
    for (const [key, tat] of this.#tat) if (tat <= now) this.#tat.delete(key);
  }
}

export interface DynamoRateLimiterOptions {
  tableName?: string;
  /** An SDK DynamoDBDocumentClient or a DocumentClient; default: the store's lean client. */
  client?: DynamoDBDocumentClient | DocumentClient;
  /** The clock, read as each write leaves (when take() is not given a time). */
  now?: () => number;
}

const conditionFailed = (error: unknown) => (error as Error)?.name === 'ConditionalCheckFailedException';

/** GCRA in the connection table: shared by every instance (see the cost above). */
export class DynamoRateLimiter implements RateLimiter {
  readonly tableName: string;
  readonly client: DocumentClient;
  // Per instance: keys refused recently, until when. Saves the writes a flood would cost.
  readonly #refusedUntil = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: DynamoRateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
    const tableName = options.tableName ?? process.env.TABLE_NAME;
    if (!tableName) throw new Error('DynamoRateLimiter needs a table: pass { tableName } or set TABLE_NAME');
    this.tableName = tableName;
    this.client = documentClientOf(options.client ?? defaultDocumentClient());
  }

  async take(key: string, rule: RateRule, at?: number): Promise<RateVerdict> {
    const clock = () => at ?? this.#now();
    const now = clock();
    const refusedUntil = this.#refusedUntil.get(key);
    if (refusedUntil !== undefined && refusedUntil > now) return { allowed: false, retryAfterMs: refusedUntil - now };
    this.#refusedUntil.delete(key);
    const interval = intervalOf(rule);
    const update = (expression: string, condition: string, values: Record<string, number>) =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `rate#${key}`, sk: 'rate' },
          UpdateExpression: `${expression}, #ttl = :ttl`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#tat': 'tat', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ...values, ':ttl': Math.floor(now / 1000) + maxConnectionSeconds },
        }),
      );
    try {
      // At a normal pace the bucket is full (tat has passed): one write.
      await update('SET #tat = :next', 'attribute_not_exists(#tat) OR #tat <= :now', { ':next': now + interval, ':now': now });
      return { allowed: true, retryAfterMs: 0 };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    // Inside a burst: allowed while tat is at most `tolerance` ahead of the clock, read again now.
    // Its floor is the first write's clock, not this one: that write failed because tat was past
    // it, and tat only grows; so a tat that the clock has meanwhile overtaken (another instance's
    // message a moment earlier, or this write retried by the SDK after it landed) is still
    // accepted, instead of failing both conditions and refusing a message that fits. That can
    // credit the time between the two writes, milliseconds, never a quiet hour.
    const later = clock();
    try {
      await update('SET #tat = #tat + :interval', '#tat > :floor AND #tat <= :limit', {
        ':interval': interval,
        ':floor': now,
        ':limit': later + toleranceOf(rule),
      });
      return { allowed: true, retryAfterMs: 0 };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
    }
    // Refused: tat is more than the burst window ahead. At least one interval passes before the
    // next message can fit.
    this.#refusedUntil.set(key, later + interval);
    if (this.#refusedUntil.size > 10_000) for (const [k, until] of this.#refusedUntil) if (until <= later) this.#refusedUntil.delete(k);
    return { allowed: false, retryAfterMs: Math.ceil(interval) };
  }
}
