// The local twin of Lambda's SQS event source mapping: pollers that long-poll a queue of the local
// SQS, invoke the function's pool (each instance frozen between invocations, as any function)
// with a batch of records shaped as Lambda sends them, and delete what the function finished:
// the whole batch when it returns, none when it fails or times out (the messages come back
// after the visibility timeout, and after maxReceiveCount go to the dead-letter queue), and with
// ReportBatchItemFailures all but the records it lists in batchItemFailures.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { FunctionPool, InvokeOutcome } from './function-pool.ts';
import type { Logger } from './log.ts';

export interface EventSourceOptions {
  /** For logs: `Function/Event`. */
  name: string;
  queueUrl: string;
  queueArn: string;
  client: SQSClient;
  /** The function's instances (a FunctionPool; tests may invoke in-process). */
  pool: Pick<FunctionPool, 'invoke' | 'name'>;
  batchSize: number;
  batchingWindowMs: number;
  reportBatchItemFailures: boolean;
  /** Invocations at once (ScalingConfig.MaximumConcurrency, else the pool's instance cap). */
  concurrency: number;
  region: string;
  log: Logger;
  onBatch?: (report: BatchReport) => void;
  /** How long past its long poll a ReceiveMessage may take before it is cut (default 10 s). */
  pollMarginSeconds?: number;
}

export interface BatchReport {
  source: string;
  functionName: string;
  requestId: string;
  status: InvokeOutcome['status'];
  /** Message ids in the batch. */
  records: string[];
  /** Message ids left on the queue: they come back after the visibility timeout. */
  failed: string[];
  /** Why the response was taken as a failure of the whole batch, when it was. */
  invalidResponse?: string;
  durationMs: number;
}

/** SQS returns at most 10 messages per ReceiveMessage. A long poll answers as soon as a message arrives. */
const maxReceive = 10;
/** How long past its long poll a ReceiveMessage may take before it is cut. */
const pollMarginSeconds = 10;
/** Shorter than Lambda's 20 s, so that a draining stop() ends soon. */
const longPollSeconds = 2;

const toRecord = (m: Message, options: Pick<EventSourceOptions, 'queueArn' | 'region'>): SQSRecord => ({
  messageId: m.MessageId!,
  receiptHandle: m.ReceiptHandle!,
  body: m.Body ?? '',
  attributes: {
    ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
    SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
    SenderId: m.Attributes?.SenderId ?? 'AIDALOCALSENDER',
    ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  },
  messageAttributes: Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {}).map(([name, a]) => [
      name,
      {
        dataType: a.DataType ?? 'String',
        ...(a.StringValue === undefined ? {} : { stringValue: a.StringValue }),
        ...(a.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(a.BinaryValue).toString('base64') }),
        stringListValues: [],
        binaryListValues: [],
      },
    ]),
  ),
  md5OfBody: m.MD5OfBody ?? '',
  eventSource: 'aws:sqs',
  eventSourceARN: options.queueArn,
  awsRegion: options.region,
});

/**
 * Which records the function did not finish, by Lambda's rules for partial batch responses: none
 * when it returns nothing, an empty or null batchItemFailures; the whole batch when the response
 * is malformed (not a list, an itemIdentifier that is empty or not in the batch).
 */
export const failedRecords = (result: unknown, ids: string[]): { failed: string[]; invalid?: string } => {
  if (result === null || result === undefined || typeof result !== 'object') return { failed: [] };
  const list = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === null || list === undefined) return { failed: [] };
  if (!Array.isArray(list)) return { failed: ids, invalid: 'batchItemFailures is not a list' };
  const failed = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.includes(id))
      return { failed: ids, invalid: `itemIdentifier ${JSON.stringify(id)} is not a message of the batch` };
    failed.add(id);
  }
  return { failed: ids.filter((id) => failed.has(id)) };
};

export class SqsEventSource {
  readonly options: EventSourceOptions;
  #stopped = false;
  #polls = new Set<AbortController>();
  #slots: Promise<void>[] = [];

  constructor(options: EventSourceOptions) {
    this.options = options;
  }

  start(): void {
    this.#slots = Array.from({ length: Math.max(1, this.options.concurrency) }, () => this.#slot());
  }

  /**
   * Stops polling. A long poll cut off by its client can still take a message on the server (as
   * on SQS), which then hides for the visibility timeout; so with `drain` (the queue outlives this
   * mapping) the polls in flight are let finish, at most `longPollSeconds`, and what they bring
   * is delivered. Without it (the gateway stopping with its SQS) they are cut.
   */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (!options.drain) for (const poll of this.#polls) poll.abort();
    await Promise.all(this.#slots);
  }

  async #slot(): Promise<void> {
    while (!this.#stopped) {
      try {
        const messages = await this.#gather();
        // Received is delivered, even when stopping: a message must not hide for nothing.
        if (messages.length > 0) await this.#invoke(messages);
      } catch (error) {
        if (this.#stopped) return;
        this.options.log.error(`${this.options.name}: polling ${this.options.queueUrl} failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** Up to batchSize messages: one long poll, then as many more as come within the batching window. */
  async #gather(): Promise<Message[]> {
    const { batchSize, batchingWindowMs } = this.options;
    const messages = await this.#receive(Math.min(maxReceive, batchSize), longPollSeconds);
    const until = Date.now() + batchingWindowMs;
    while (messages.length > 0 && messages.length < batchSize && Date.now() < until && !this.#stopped) {
      const wait = Math.ceil((until - Date.now()) / 1000);
      const more = await this.#receive(Math.min(maxReceive, batchSize - messages.length), Math.min(longPollSeconds, Math.max(0, wait)));
      if (more.length === 0 && wait <= 0) break;
      messages.push(...more);
    }
    return messages;
  }

  async #receive(max: number, waitSeconds: number): Promise<Message[]> {
    const poll = new AbortController();
    this.#polls.add(poll);
    try {
      const out = await this.options.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        // A poll is never waited on past its long poll and a margin: one that hangs (a socket that
        // stopped answering) would otherwise hold its slot, and the queue, forever, with no line
        // said. Cut, it fails as any poll does (logged, retried in a second).
        { abortSignal: AbortSignal.any([poll.signal, AbortSignal.timeout((waitSeconds + (this.options.pollMarginSeconds ?? pollMarginSeconds)) * 1000)]) },
      );
      return out.Messages ?? [];
    } finally {
      this.#polls.delete(poll);
    }
  }

  /** One line per batch, as the routes have: an SQS-triggered invocation is seen in the gateway's output too. */
  #logBatch(outcome: InvokeOutcome, records: number, failed: number): void {
    const cold = outcome.initMs !== undefined ? `, cold start ${outcome.initMs} ms` : '';
    const what = outcome.status === 'ok' ? 'OK' : outcome.status === 'timeout' ? 'TIMEOUT' : 'ERROR';
    const left = failed > 0 ? `; ${failed} left on the queue (back after its visibility timeout)` : '';
    const line = `${'SQS'.padEnd(11)} ${this.options.name} ${records} record(s) → ${what} (${outcome.durationMs.toFixed(0)} ms${cold})${left}`;
    if (outcome.status === 'ok' && failed === 0) this.options.log.info(line);
    else if (outcome.status === 'error') this.options.log.error(`${line}\n  ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    else this.options.log.error(line);
  }

  async #invoke(messages: Message[]): Promise<void> {
    const { pool, reportBatchItemFailures, name } = this.options;
    const records = messages.map((m) => toRecord(m, this.options));
    const ids = records.map((r) => r.messageId);
    const outcome = await pool.invoke({ Records: records }, { route: `sqs:${name}` });
    let failed = ids;
    let invalid: string | undefined;
    if (outcome.status === 'ok') {
      ({ failed, invalid } = reportBatchItemFailures ? failedRecords(outcome.result, ids) : { failed: [] });
    }
    if (invalid) this.options.log.warn(`${name}: the response is not a valid partial batch response (${invalid}): the whole batch goes back to the queue`);
    const done = records.filter((r) => !failed.includes(r.messageId));
    for (let i = 0; i < done.length; i += maxReceive) {
      const chunk = done.slice(i, i + maxReceive);
      await this.options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: chunk.map((r, k) => ({ Id: `d${k}`, ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
    this.#logBatch(outcome, ids.length, failed.length);
    this.options.onBatch?.({
      source: name,
      functionName: pool.name,
      requestId: outcome.requestId,
      status: outcome.status,
      records: ids,
      failed,
      ...(invalid ? { invalidResponse: invalid } : {}),
      durationMs: outcome.durationMs,
    });
  }
}
