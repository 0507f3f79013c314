export interface ReconnectBackoff {
  /** The ceiling of the first wait. */
  baseMs: number;
  /** No wait is longer. */
  capMs: number;
}

export const backoffDefaults: ReconnectBackoff = { baseMs: 500, capMs: 30_000 };

/**
 * "Full jitter": a uniform wait between 0 and min(cap, base · 2^attempt). Clients that lost their
 * sockets at the same moment (a deploy, a network switch) spread out instead of reconnecting in step.
 */
export const reconnectDelay = (attempt: number, { baseMs, capMs }: ReconnectBackoff, random: () => number = Math.random): number =>
  Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));
