import type { MiddlewareObj, Request } from '@middy/core';
import { createError } from '@middy/util';
import { withDefaults } from '../src/options.ts';
import { checkRule, DynamoRateLimiter, MemoryRateLimiter, type RateLimiter } from '../src/store/rate-limit.ts';
import type { WsEvent } from '../src/types.ts';

export interface RateLimitOptions {
  /** Sustained client messages per second, per connection. */
  ratePerSecond?: number;
  /** Messages allowed at once after a quiet spell. */
  burst?: number;
  /** Where the buckets live: by default in the connection table (TABLE_NAME), else in memory. */
  limiter?: RateLimiter;
  /** What the caller is told, as {"type":"error","message":…}. */
  message?: string;
  /**
   * Whose bucket a message takes from: by default its connection. Give the verified user
   * (`(event) => \`user:${event.requestContext.authorizer?.principalId}\``) to limit a user across all
   * its connections; with the DynamoDB limiter the bucket is one row, shared by every instance.
   * Undefined: not limited by this rule.
   */
  key?: (event: WsEvent) => string | undefined;
}

export const rateLimitDefaults = {
  // A person types far slower; a loop is refused within a second. The burst lets a client send
  // its join and first messages at once.
  ratePerSecond: 5,
  burst: 10,
  message: 'slow down',
};

let sharedLimiter: RateLimiter | undefined;
const defaultLimiter = (): RateLimiter => (sharedLimiter ??= process.env.TABLE_NAME ? new DynamoRateLimiter() : new MemoryRateLimiter());

/**
 * A per-connection rate limit on client messages (src/store/rate-limit.ts has the algorithm and
 * its cost). Past it the handler does not run: the caller gets {"type":"error","message":"slow
 * down"} (a 429 through the outbox's error reply) and nothing else is sent. $connect and
 * $disconnect are not client messages and are never limited.
 */
export const rateLimit = (options: RateLimitOptions = {}): MiddlewareObj => {
  const config = withDefaults(rateLimitDefaults, options);
  const rule = checkRule({ ratePerSecond: config.ratePerSecond, burst: config.burst }, 'rateLimit');
  return {
    before: async (request: Request) => {
      const requestContext = (request.event as WsEvent | undefined)?.requestContext;
      if (requestContext?.eventType !== 'MESSAGE' || !requestContext.connectionId) return;
      const key = config.key === undefined ? requestContext.connectionId : config.key(request.event as WsEvent);
      if (key === undefined) return;
      const verdict = await (config.limiter ?? defaultLimiter()).take(key, rule);
      if (!verdict.allowed) throw createError(429, config.message);
    },
  };
};
