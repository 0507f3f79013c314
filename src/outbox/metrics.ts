// The delivery report as CloudWatch metrics, through a Powertools `Metrics` instance (EMF), in
// the same blob as the app's own metrics: the one `logMetrics` prints.
//
// Middy runs `after` middlewares last-registered first, so in
// `wsHandler(fn, { metrics }).use(logMetrics(metrics))` Powertools' after (its publish) runs
// *before* the outbox's, whose flush makes the report. The outbox therefore holds the instance's
// publishStoredMetrics() from its `before` until the report's metrics are in, then does the
// publish that was asked for. With logMetrics registered around the outbox instead
// (`middy(fn).use(logMetrics(m)).use(outbox({ metrics: m }))`), its publish already comes after
// the report and nothing is held. Without logMetrics, the outbox publishes the report itself.
//
// ws-outbox does not depend on Powertools: these are the few methods it calls.
import type { DeliveryReport } from '../types.ts';

/** What ws-outbox calls on a Powertools `Metrics` (`@aws-lambda-powertools/metrics`). */
export interface ReportMetrics {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): unknown;
  addDimension(name: string, value: string): unknown;
  publishStoredMetrics(): unknown;
}

/** Where Powertools' logMetrics registers its cleanup in Middy's `request.internal`: its presence says logMetrics is in the stack. */
export const powertoolsMetricsKey = 'powertools-for-aws.metrics';

const pascal = (reason: string): string =>
  reason
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/**
 * Adds the report: Sent, Gone, Failed, Pruned and DurationMs always; Failed<Reason> (FailedThrottled,
 * FailedDeadline, FailedTooLarge, …), Unresolved, Unpruned, Discarded and Spilled when not zero; `route` as
 * a dimension. An EMF blob has one set of dimensions, so the app's metrics of this invocation get
 * the route too.
 */
export const addReportMetrics = (metrics: ReportMetrics, report: DeliveryReport, route: string | undefined): void => {
  if (route) metrics.addDimension('route', route);
  metrics.addMetric('Sent', 'Count', report.sent);
  metrics.addMetric('Gone', 'Count', report.gone.length);
  metrics.addMetric('Failed', 'Count', report.failed.length);
  const byReason = new Map<string, number>();
  for (const f of report.failed) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1);
  for (const [reason, count] of byReason) metrics.addMetric(`Failed${pascal(reason)}`, 'Count', count);
  metrics.addMetric('Pruned', 'Count', report.pruned);
  if (report.unresolved.length > 0) metrics.addMetric('Unresolved', 'Count', report.unresolved.length);
  if (report.unpruned.length > 0) metrics.addMetric('Unpruned', 'Count', report.unpruned.length);
  if (report.discarded > 0) metrics.addMetric('Discarded', 'Count', report.discarded);
  if (report.spilled > 0) metrics.addMetric('Spilled', 'Count', report.spilled);
  metrics.addMetric('DurationMs', 'Milliseconds', report.durationMs);
};

/** Publishes now; never throws (a Powertools error such as throwOnEmptyMetrics is logged). */
export const publishMetrics = (metrics: ReportMetrics): void => {
  try {
    metrics.publishStoredMetrics();
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', msg: 'ws-outbox: publishing the metrics failed', error: String((error as Error)?.message ?? error) }));
  }
};

export interface PublishHold {
  /**
   * Puts publishStoredMetrics() back, and publishes if it was called meanwhile, or if `unclaimed`
   * (no logMetrics in the stack will ever publish this invocation's metrics). Never throws: a
   * Powertools error (throwOnEmptyMetrics, an invalid metric) is logged.
   */
  release(options: { unclaimed: boolean }): void;
}

// One hold per instance: Lambda runs one invocation at a time per environment, so a hold still
// there when the next invocation arms one belongs to an invocation that never settled.
const holds = new WeakMap<ReportMetrics, PublishHold>();

/** Holds `metrics.publishStoredMetrics()` until release(). */
export const holdPublish = (metrics: ReportMetrics): PublishHold => {
  holds.get(metrics)?.release({ unclaimed: false });
  const hadOwn = Object.hasOwn(metrics, 'publishStoredMetrics');
  const own = metrics.publishStoredMetrics;
  let asked = false;
  let released = false;
  metrics.publishStoredMetrics = function heldByWsOutbox() {
    asked = true;
    return metrics;
  };
  const hold: PublishHold = {
    release({ unclaimed }) {
      if (released) return;
      released = true;
      holds.delete(metrics);
      if (hadOwn) metrics.publishStoredMetrics = own;
      else delete (metrics as Partial<ReportMetrics>).publishStoredMetrics;
      if (!asked && !unclaimed) return;
      publishMetrics(metrics);
    },
  };
  holds.set(metrics, hold);
  return hold;
};
