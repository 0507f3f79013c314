import { classifyError } from '../management/classify.ts';
import { retryableKinds, TransportError, type DeliveryFailure, type Transport } from '../management/transport.ts';
import type { FailedDelivery } from '../types.ts';
import { backoffDelay, sleep as sleepFor, type BackoffOptions } from './backoff.ts';
import type { Pacer } from './pacer.ts';
import type { Task } from './recipients.ts';
import { isStalled, type FirstThrottle, type StalledClients } from './stalled.ts';

export interface DeliverOptions {
  transport: Transport;
  /** Requests in flight at once. */
  concurrency: number;
  /** Attempts per message, the first included. */
  maxAttempts: number;
  /** Upper bound for one request; a hung socket cannot take more than this. */
  requestTimeoutMs: number;
  /** Epoch ms after which no new attempt starts; what is left is reported as failed (`deadline`). */
  deadline: number;
  /** Epoch ms by which every request in flight has ended (its timeout is capped to it). */
  hardDeadline: number;
  backoff: BackoffOptions;
  /** Spaces attempts out once the endpoint has answered 429 (shared by the invocations that use the endpoint). */
  pacer?: Pacer;
  /** Connections found not reading, remembered across flushes (stalled.ts); none: each flush finds them anew. */
  stalled?: StalledClients;
  /** Close a stalled connection (DeleteConnection) instead of only reporting it. Default false. */
  disconnectStalled?: boolean;
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryOutcome {
  queued: number;
  sent: number;
  gone: string[];
  failed: FailedDelivery[];
  /** Connections closed by a successful DeleteConnection (the store should forget them too). */
  closed: string[];
  /** Rooms a gone id was reached through, so prune can remove memberships the store does not list. */
  goneRooms: Map<string, Set<string>>;
  /** Users a gone id was reached through (toUser), so prune can remove user-index rows the store does not list. */
  goneUsers: Map<string, Set<string>>;
}

const aborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(new TransportError({ kind: 'timeout', name: 'TimeoutError', message: 'request timed out' })), { once: true }),
  );

const noteVia = (map: Map<string, Set<string>>, id: string, via: string): void => {
  let set = map.get(id);
  if (set === undefined) map.set(id, (set = new Set()));
  set.add(via);
};

let warnedNoConfirmation = false;
const warnNoConfirmation = (): void => {
  if (warnedNoConfirmation) return;
  warnedNoConfirmation = true;
  console.error(
    JSON.stringify({
      level: 'warn',
      msg:
        'ws-outbox: a 410 could not be confirmed (GetConnection answered 403): it is trusted as is, and a stray answer on a reused ' +
        'socket could prune a live connection. Allow execute-api:ManageConnections on .../<stage>/GET/@connections/* to the function.',
    }),
  );
};

/**
 * Delivers every task with at most `concurrency` requests in flight. Tasks are pulled one at a
 * time from the (lazy) source, so nothing is built for recipients that are not being sent to yet.
 * Sends to the same connection keep their enqueue order.
 */
export async function deliver(tasks: AsyncIterable<Task>, options: DeliverOptions): Promise<DeliveryOutcome> {
  const { transport, maxAttempts, requestTimeoutMs, deadline, hardDeadline, backoff, pacer } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepFor;
  const outcome: DeliveryOutcome = { queued: 0, sent: 0, gone: [], failed: [], closed: [], goneRooms: new Map(), goneUsers: new Map() };

  const fail = (id: string, failure: Pick<DeliveryFailure, 'kind' | 'status' | 'name'> | 'deadline' | 'stalled' | 'unconfirmed') => {
    outcome.failed.push(
      failure === 'deadline'
        ? { connectionId: id, reason: 'deadline' }
        : failure === 'stalled'
          ? { connectionId: id, reason: 'stalled', status: 429, error: 'LimitExceededException' }
          : // A 410 its confirmation did not bear out: delivery unknown, nothing pruned.
            failure === 'unconfirmed'
            ? { connectionId: id, reason: 'unconfirmed', status: 410, error: 'GoneException' }
            : { connectionId: id, reason: failure.kind, status: failure.status, error: failure.name },
    );
  };

  // 410 is final for a connection: later messages to it in this flush are gone without a request.
  const goneIds = new Set<string>();
  // Stalled connections (stalled.ts): later messages to them in this flush fail without a request,
  // which also keeps their order (nothing after a failed message reaches them).
  const stalledIds = new Set<string>();
  // Requests that got through, and connections that got a first 429, in this flush so far; and,
  // per throttled connection, when its first 429 came, and the two counts when its request left.
  let passes = 0;
  let throttledConnections = 0;
  const firstThrottle = new Map<string, FirstThrottle>();

  const giveUp = async (task: Task): Promise<void> => {
    stalledIds.add(task.id);
    options.stalled?.add(task.id, now());
    fail(task.id, 'stalled');
    if (!options.disconnectStalled) return;
    // Best effort, inside the same budget: a client that does not read is closed, and its row
    // pruned with the ids this flush closed itself.
    const budget = Math.min(requestTimeoutMs, hardDeadline - now());
    if (budget <= 0) return;
    try {
      await transport.delete(task.id, AbortSignal.timeout(budget));
      outcome.closed.push(task.id);
    } catch {
      // Reported as stalled all the same; the app may close it itself.
    }
  };

  // 'gone' when a GetConnection on a socket of its own says so (or the transport cannot ask).
  const confirmGone = async (id: string): Promise<'gone' | 'live' | 'unknown'> => {
    if (transport.confirmGone === undefined) return 'gone';
    const budget = Math.min(requestTimeoutMs, hardDeadline - now());
    if (budget <= 0) return 'unknown';
    try {
      return (await transport.confirmGone(id, AbortSignal.timeout(budget))) ? 'gone' : 'live';
    } catch (error) {
      // No GET permission (a policy written before confirmations): the 410 is trusted, as before, and said once.
      if ((error as TransportError).failure?.kind === 'forbidden') {
        warnNoConfirmation();
        return 'gone';
      }
      return 'unknown';
    }
  };

  const attempt = async (task: Task): Promise<void> => {
    if (goneIds.has(task.id)) return void outcome.gone.push(task.id);
    if (stalledIds.has(task.id)) return fail(task.id, 'stalled');
    if (options.stalled?.skips(task.id, now())) {
      stalledIds.add(task.id);
      return fail(task.id, 'stalled');
    }
    // n counts attempts against maxAttempts; a 429 the pacer had already answered (the request
    // left before the pace was last lowered) does not use one up.
    for (let n = 1; ; n++) {
      const wait = pacer?.delay(now()) ?? 0;
      if (wait > 0) {
        if (now() + wait >= deadline) return fail(task.id, 'deadline');
        await sleep(wait);
      }
      const start = now();
      if (start >= deadline) return fail(task.id, 'deadline');
      // The counts as this request leaves; kept only if it comes back 429 (no allocation per request).
      const passesAtStart = passes;
      const throttledAtStart = throttledConnections;
      const budget = Math.min(requestTimeoutMs, hardDeadline - start);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), budget);
      let failure: DeliveryFailure;
      try {
        const request = task.op === 'post' ? transport.post(task.id, task.payload, controller.signal) : transport.delete(task.id, controller.signal);
        // The transport should honour the signal; the race makes sure a hung request cannot
        // outlive its budget even if it does not.
        await Promise.race([request, aborted(controller.signal)]);
        pacer?.passed(now());
        passes++;
        options.stalled?.forget(task.id);
        if (task.op === 'delete') outcome.closed.push(task.id);
        outcome.sent++;
        return;
      } catch (error) {
        failure = error instanceof TransportError ? error.failure : classifyError(error, controller.signal.aborted);
        if (controller.signal.aborted) failure = { ...failure, kind: 'timeout', name: 'TimeoutError' };
      } finally {
        clearTimeout(timer);
      }
      if (failure.kind === 'throttled' && options.stalled !== undefined) {
        // A connection this instance already found stalled, or one whose 429s cannot be the
        // account's limit (isStalled): this client is not reading; the endpoint is not throttling.
        const first = firstThrottle.get(task.id);
        if (options.stalled.has(task.id, now()) || (first !== undefined && isStalled(first, n, { now: now(), maxAttempts, passes, throttledConnections }))) {
          return giveUp(task);
        }
        if (first === undefined) {
          firstThrottle.set(task.id, { at: now(), passes: passesAtStart, throttledConnections: throttledAtStart });
          throttledConnections++;
        }
      }
      const stale = failure.kind === 'throttled' && pacer !== undefined && !pacer.throttled(now(), start, task.id);
      if (failure.kind === 'gone') {
        // A 410 on a reused socket may be a stray answer meant for another request: confirmed on a
        // socket of its own before anyone is told, or anything pruned. Live after all: sent again
        // (at least once); not known: failed, nothing pruned.
        const verdict = await confirmGone(task.id);
        if (verdict === 'live') {
          if (n < maxAttempts && now() < deadline) continue;
          return fail(task.id, 'unconfirmed');
        }
        if (verdict === 'unknown') return fail(task.id, 'unconfirmed');
        outcome.gone.push(task.id);
        goneIds.add(task.id);
        if (task.op === 'post' && task.room !== undefined) noteVia(outcome.goneRooms, task.id, task.room);
        if (task.op === 'post' && task.user !== undefined) noteVia(outcome.goneUsers, task.id, task.user);
        return;
      }
      // A request cut short by the invocation's deadline (not by its own timeout) is a deadline failure.
      if (failure.kind === 'timeout' && budget < requestTimeoutMs) return fail(task.id, 'deadline');
      if (!stale && (!retryableKinds.has(failure.kind) || n >= maxAttempts)) return fail(task.id, failure);
      const delay = backoffDelay(n, failure.kind === 'throttled', backoff, random);
      if (now() + delay >= deadline) return fail(task.id, 'deadline');
      await sleep(delay);
      if (stale) n--;
    }
  };

  const iterator = tasks[Symbol.asyncIterator]();
  // Async generators queue concurrent next() calls and answer them in order, so tasks reach the
  // workers in enqueue order. The source never throws: recipients.ts turns store failures into
  // unresolved entries.
  const next = async (): Promise<Task | undefined> => {
    const step = await iterator.next();
    return step.done ? undefined : step.value;
  };

  // Ids with a request in flight, each with the tasks that came up for it meanwhile. A later task
  // for a busy id waits here, in order, instead of holding a worker: the worker that owns the id
  // sends them one after another, and the others go on with the rest of the flush.
  const waiting = new Map<string, Task[]>();

  const worker = async (): Promise<void> => {
    for (let task = await next(); task !== undefined; task = await next()) {
      outcome.queued++;
      const queue = waiting.get(task.id);
      if (queue !== undefined) {
        queue.push(task);
        continue;
      }
      const mine: Task[] = [];
      waiting.set(task.id, mine);
      for (let t: Task | undefined = task; t !== undefined; t = mine.shift()) await attempt(t);
      waiting.delete(task.id);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return outcome;
}
