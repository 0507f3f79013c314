import type { DeliveryReport } from '../types.ts';
import type { DeliveryOutcome } from './deliver.ts';

export const buildReport = (
  outcome: Pick<DeliveryOutcome, 'queued' | 'sent' | 'gone' | 'failed'>,
  rest: Pick<DeliveryReport, 'unresolved' | 'pruned' | 'unpruned' | 'discarded'> & { spilled?: number },
  durationMs: number,
): DeliveryReport => ({
  queued: outcome.queued,
  sent: outcome.sent,
  gone: outcome.gone,
  failed: outcome.failed,
  unresolved: rest.unresolved,
  pruned: rest.pruned,
  unpruned: rest.unpruned,
  discarded: rest.discarded,
  spilled: rest.spilled ?? 0,
  durationMs,
});

/** Lists longer than this are cut in the log line (the full report still goes to onReport). */
const maxListedInLog = 50;

const levels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
type Level = (typeof levels)[number];

/** Whether a line at `level` passes OUTBOX_LOG_LEVEL (default info; the template sets it). */
export const logLevelAllows = (level: Level, env: NodeJS.ProcessEnv = process.env): boolean => {
  const configured = (env.OUTBOX_LOG_LEVEL || 'info').toLowerCase() as Level;
  const threshold = levels.indexOf(configured);
  return levels.indexOf(level) >= (threshold === -1 ? 1 : threshold);
};

/**
 * A structured logger such as Powertools' `Logger`: the report goes to `info` or `warn` with its
 * fields as the extra attributes, so it carries the logger's keys (service, the Lambda context
 * from injectLambdaContext, a correlation id).
 */
export interface ReportLogger {
  info(message: string, ...extra: Array<Record<string, unknown>>): unknown;
  warn(message: string, ...extra: Array<Record<string, unknown>>): unknown;
  error(message: string, ...extra: Array<Record<string, unknown>>): unknown;
}

/** Where the report goes: a function that takes one JSON line (console.log by default), or a structured logger. */
export type ReportLog = ((line: string) => void) | ReportLogger;

/** Sends one entry at `level` to either kind of logger: a JSON line with level and msg, or logger[level](msg, fields). */
export const logTo = (log: ReportLog, level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void => {
  if (typeof log === 'function') log(JSON.stringify({ level, msg, ...fields }));
  else log[level](msg, fields);
};

/** One structured JSON line per invocation, so that CloudWatch Logs Insights can aggregate it. */
export const logReport = (
  log: ReportLog,
  report: DeliveryReport,
  request: { event: { requestContext?: { routeKey?: string; connectionId?: string } }; context: { awsRequestId?: string } },
  extra: { pruneError?: unknown; warn?: boolean } = {},
  /** More fields for the line (the fan-out worker's shard, cursor, …; `msg` to name another kind of report). */
  fields: Record<string, unknown> = {},
): void => {
  const { gone, failed, unresolved, unpruned, ...counts } = report;
  // Rows kept because their $connect may be running are the rule working, not a problem.
  const troubled = unpruned.filter((u) => u.reason !== 'connecting');
  const level = failed.length > 0 || unresolved.length > 0 || troubled.length > 0 || extra.pruneError || extra.warn ? 'warn' : 'info';
  if (!logLevelAllows(level)) return;
  const { msg = 'ws-outbox delivery report', ...more } = fields;
  logTo(log, level, String(msg), {
    requestId: request.context.awsRequestId,
    routeKey: request.event.requestContext?.routeKey,
    ...counts,
    goneCount: gone.length,
    failedCount: failed.length,
    gone: gone.slice(0, maxListedInLog),
    failed: failed.slice(0, maxListedInLog),
    unresolved: unresolved.length > 0 ? unresolved.slice(0, maxListedInLog) : undefined,
    unpruned: unpruned.length > 0 ? unpruned.slice(0, maxListedInLog) : undefined,
    truncated: [gone, failed, unresolved, unpruned].some((list) => list.length > maxListedInLog) || undefined,
    pruneError: extra.pruneError ? String(extra.pruneError) : undefined,
    ...more,
  });
};
