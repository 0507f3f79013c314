import { Spill, type SpillConfig } from '../fanout/spill.ts';
import { TransportError, type Transport } from '../management/transport.ts';
import type { Store } from '../store/store.ts';
import type { DeliveryReport, UnresolvedEntry } from '../types.ts';
import { abortAt, raceAbort } from './abortable.ts';
import type { BackoffOptions } from './backoff.ts';
import { planBudget } from './budget.ts';
import { deliver, type DeliveryOutcome } from './deliver.ts';
import { pacerFor } from './pacer.ts';
import { stalledClientsFor } from './stalled.ts';
import type { Entry } from './outbox.ts';
import { prune, type PruneResult } from './prune.ts';
import { tasksOf, type ExpandOptions, type Task } from './recipients.ts';
import { buildReport } from './report.ts';
import { stampEntries } from './stamp.ts';
import type { MessageLog } from '../store/room-log.ts';

export interface FlushOptions {
  concurrency: number;
  maxAttempts: number;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  /** Kept back from the Lambda deadline: the whole flush ends before it. */
  safetyMarginMs: number;
  /** Kept back from store reads, for what is queued behind them, requests in flight, the prune and onReport (budget.ts). */
  reserveMs: number;
  /** A gone connection whose row is younger than this is not pruned (its $connect may be running). */
  connectGraceMs: number;
  /** Close connections found not reading (stalled.ts) instead of only reporting them. */
  disconnectStalled?: boolean;
}

export interface FlushInput {
  entries: Entry[];
  /** Instead of expanding `entries`: the tasks themselves (the fan-out worker reads its shard this way). */
  tasks?: (options: ExpandOptions) => AsyncIterable<Task>;
  /** Instructions dropped before the flush because the invocation failed; reported as such. */
  discarded: number;
  store: Store | undefined;
  /** Resolved only when there is something to send. */
  transport: () => Promise<Transport>;
  /** `context.getRemainingTimeInMillis()` as the flush starts. */
  remainingMs: number;
  options: FlushOptions;
  /** Sees the report first (the log line); must not throw. */
  log?: (report: DeliveryReport, extra: { pruneError?: unknown }) => void;
  /** Each gets the report once, bounded by the budget; a throw or a hang is logged, never raised. */
  onReport?: Array<((report: DeliveryReport) => void | Promise<void>) | undefined>;
  /** When set, toRoom/toUser messages get their stream's sequence and are logged for resume (stamp.ts) before anything is sent. */
  roomLog?: MessageLog;
  /** Room and "all" entries past this go to the fan-out queue (src/fanout/spill.ts). */
  spill?: Omit<SpillConfig, 'signal'>;
  now?: () => number;
}

const nothingDelivered = (): DeliveryOutcome => ({ queued: 0, sent: 0, gone: [], failed: [], closed: [], goneRooms: new Map(), goneUsers: new Map() });

/**
 * Delivers what one invocation enqueued, inside one time budget (budget.ts): recipients are read,
 * messages sent and retried, gone connections pruned and the report handed over, all before
 * `remainingMs - safetyMarginMs`. It never throws for what happens to the messages: that is what
 * the report is for.
 */
export const flush = async (input: FlushInput): Promise<DeliveryReport> => {
  const { store, options } = input;
  let entries = input.entries;
  const now = input.now ?? Date.now;
  const budget = planBudget(now(), input.remainingMs, options);
  const unresolved: UnresolvedEntry[] = [];

  let outcome = nothingDelivered();
  let spilled = 0;
  if (entries.length > 0 || input.tasks) {
    const reads = abortAt(budget.readsUntil, now);
    // Messages to the fan-out queue may still leave until the end of the budget.
    const sends = abortAt(budget.end, now);
    const spill = input.spill && store ? new Spill({ ...input.spill, signal: sends.signal }, store) : undefined;
    try {
      // Sequenced and logged before any recipient is read: a client resuming after its room
      // read finds the message in the log, one resuming before it is reached live (resume.ts).
      if (input.roomLog && entries.length > 0) entries = await stampEntries(entries, input.roomLog, { signal: reads.signal, unresolved });
      const transport = await transportOrFailure(input.transport);
      const expand = { signal: reads.signal, unresolved, spill };
      outcome = await deliver(input.tasks ? input.tasks(expand) : tasksOf(entries, store, expand), {
        transport,
        pacer: options.backoff.pace === false ? undefined : pacerFor(transport),
        stalled: stalledClientsFor(transport),
        disconnectStalled: options.disconnectStalled === true,
        concurrency: options.concurrency,
        maxAttempts: options.maxAttempts,
        requestTimeoutMs: options.requestTimeoutMs,
        deadline: budget.attemptsUntil,
        hardDeadline: budget.requestsUntil,
        backoff: options.backoff,
        now,
      });
      if (spill) {
        spill.carry(outcome.failed);
        await spill.settled();
        spilled = spill.spilled;
        unresolved.push(...spill.unresolved);
      }
    } finally {
      reads.clear();
      sends.clear();
    }
  }

  let pruned: PruneResult = { pruned: 0, unpruned: [] };
  if (store !== undefined && (outcome.gone.length > 0 || outcome.closed.length > 0)) {
    const until = abortAt(budget.pruneUntil, now);
    try {
      pruned = await prune(store, outcome, { signal: until.signal, connectGraceMs: options.connectGraceMs, now });
    } finally {
      until.clear();
    }
  }

  const report = buildReport(
    outcome,
    { unresolved, pruned: pruned.pruned, unpruned: pruned.unpruned, discarded: input.discarded, spilled },
    now() - budget.start,
  );
  input.log?.(report, { pruneError: pruned.error });
  await handOver(report, input.onReport ?? [], budget.end, now);
  return report;
};

/** A transport that cannot be made (no endpoint, say) fails every task with its reason, in the report. */
const transportOrFailure = async (make: () => Promise<Transport>): Promise<Transport> => {
  try {
    return await make();
  } catch (error) {
    const fail = async (): Promise<never> => {
      throw new TransportError({ kind: 'client', name: (error as Error)?.name ?? 'Error', message: String((error as Error)?.message ?? error) });
    };
    console.error(JSON.stringify({ level: 'error', msg: 'ws-outbox: no @connections client', error: String((error as Error)?.message ?? error) }));
    return { post: fail, delete: fail, destroy: () => undefined };
  }
};

/** onReport is the app's code: it may throw or hang, and neither may change the invocation's outcome. */
const handOver = async (report: DeliveryReport, receivers: FlushInput['onReport'] & {}, end: number, now: () => number): Promise<void> => {
  const until = abortAt(end, now);
  try {
    await Promise.all(
      receivers.map(async (receiver) => {
        if (receiver === undefined) return;
        try {
          await raceAbort(
            Promise.resolve().then(() => receiver(report)),
            until.signal,
          );
        } catch (error) {
          const msg = until.signal.aborted ? 'ws-outbox: onReport did not finish within the flush budget' : 'ws-outbox: onReport failed';
          console.error(JSON.stringify({ level: 'error', msg, error: String((error as Error)?.message ?? error) }));
        }
      }),
    );
  } finally {
    until.clear();
  }
};
