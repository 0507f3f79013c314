import { abortable, raceAbort } from '../outbox/abortable.ts';
import type { Entry } from '../outbox/outbox.ts';
import { readShards } from '../store/read-shards.ts';
import type { Page, PageTarget, Store } from '../store/store.ts';
import type { FailedDelivery, UnresolvedEntry } from '../types.ts';
import { continuationsOf, isTransient } from './continuation.ts';
import { bodyOf, encodePayload, type FanoutMessage } from './message.ts';
import type { QueueSender } from './queue.ts';

export interface SpillConfig {
  /**
   * Recipients the invocation reads (and sends to) itself, over all its room and "all" entries,
   * before it hands the rest to the queue: one message per shard not read to its end.
   */
  threshold: number;
  queue: QueueSender;
  /** The @connections endpoint the workers will post to (the sender's own). */
  endpoint: () => string;
  /** The invocation's request id: the messages' ids start with it. */
  origin: string;
  /** Shards read at once (each one page ahead) while the invocation reads them itself. */
  readConcurrency?: number;
  /** Aborts the sends still running (the end of the flush's budget). */
  signal?: AbortSignal;
}

/** Ids of an except list the worker gets, beyond the sender's own: dedupe is best effort past this. */
const maxDedupeExcept = 1000;

type StoreEntry = Extract<Entry, { kind: 'room' | 'all' }>;

/**
 * The sender's side of the fan-out. A room or "all" entry is read and delivered here, shard by
 * shard, as long as the invocation is under its threshold and inside its read budget; then every
 * shard not read to its end becomes one SQS message (from the cursor of the last page delivered
 * here), and the fan-out workers deliver the rest. Pages read ahead but not delivered yet are left
 * to the workers, so no recipient is read twice. Shards the first page shows it will not get to
 * are handed over at once, before it delivers anything.
 */
export class Spill {
  readonly #config: SpillConfig;
  readonly #store: Store;
  #read = 0;
  #sends: Promise<void>[] = [];
  // Who this invocation sent a spilled entry to itself (at most the threshold and a page), and
  // each spilled entry's message: a recipient it could not reach is handed over with the rest.
  readonly #yielded = new Map<string, number>();
  readonly #messages = new Map<number, FanoutMessage>();
  /** Messages on the queue. */
  spilled = 0;
  /** Shards whose message could not be sent. */
  readonly unresolved: UnresolvedEntry[] = [];

  constructor(config: SpillConfig, store: Store) {
    this.#config = config;
    this.#store = store;
  }

  /** Whether this store can hand entries of this kind over (it pages from a cursor, and knows its shards). */
  covers(entry: StoreEntry): boolean {
    return typeof this.#store.pagesOf === 'function' && (entry.kind === 'room' || (this.#store.shards ?? 0) > 0);
  }

  /**
   * The recipients this invocation delivers itself, page by page; what is left is enqueued. Never
   * throws: a read that fails or runs out of time leaves its shard to the queue too.
   * `alsoExcept` names who the sender reaches with this payload anyway (dedupe.ts).
   */
  async *read(entry: StoreEntry, index: number, signal: AbortSignal, alsoExcept: () => Iterable<string>): AsyncGenerator<string> {
    const store = this.#store;
    const shards = entry.kind === 'all' ? Array.from({ length: store.shards! }, (_, shard) => shard) : [0];
    const targetOf = (shard: number): PageTarget => (entry.kind === 'all' ? { kind: 'all', shard } : { kind: 'room', room: entry.room });
    const position = new Map<number, string>();
    const reached = new Map<number, number>();
    const finished = new Set<number>();
    const spill = (list: number[]) => {
      if (list.length > 0)
        this.#enqueue(
          entry,
          index,
          list.map((shard) => ({ shard, cursor: position.get(shard), reached: reached.get(shard) ?? 0 })),
          alsoExcept,
        );
    };
    let mine = shards;
    if (this.#read < this.#config.threshold && !signal.aborted) {
      try {
        let first: AsyncIterator<Page> | undefined;
        let probe: IteratorResult<Page> | undefined;
        if (shards.length > 1) {
          // Ids spread evenly over the shards, so the first page of one says roughly how many
          // recipients the entry has. Shards this invocation will not get to go to the queue now,
          // so the workers start while it delivers its own part (not after).
          first = store.pagesOf!(targetOf(shards[0]!), { signal })[Symbol.asyncIterator]();
          probe = await raceAbort(first.next(), signal);
          const perShard = probe.done ? 0 : probe.value.ids.length;
          const keep = perShard === 0 ? shards.length : Math.ceil((this.#config.threshold - this.#read) / perShard);
          if (keep < shards.length) {
            mine = shards.slice(0, keep);
            spill(shards.slice(keep));
          }
        }
        const readShard = (shard: number): AsyncIterable<Page> => {
          if (shard !== shards[0] || first === undefined) return store.pagesOf!(targetOf(shard), { signal });
          // The probed shard goes on from the page already read.
          const rest = first;
          return (async function* () {
            if (probe !== undefined && !probe.done) yield probe.value;
            if (probe?.done || probe?.value.cursor === undefined) return;
            for (let step = await rest.next(); !step.done; step = await rest.next()) yield step.value;
          })();
        };
        const pages = readShards(readShard, mine, this.#config.readConcurrency ?? 4);
        for await (const page of abortable(pages, signal)) {
          for (const id of page.ids) {
            this.#yielded.set(id, index);
            yield id;
          }
          this.#read += page.ids.length;
          reached.set(page.shard, (reached.get(page.shard) ?? 0) + page.ids.length);
          if (page.cursor === undefined) finished.add(page.shard);
          else position.set(page.shard, page.cursor);
          if (this.#read >= this.#config.threshold) break;
        }
      } catch {
        // Out of time, or the store failed: the workers read what is left (and retry a store
        // that fails; a shard that keeps failing ends in the dead-letter queue).
      }
    }
    spill(mine.filter((shard) => !finished.has(shard)));
  }

  /**
   * After the delivery: recipients of a spilled entry that this invocation could not reach (429,
   * 5xx, a network error, a timeout, its deadline) go to the queue too, as retries-only messages,
   * so a spilled broadcast loses nobody to the sender's own bad luck. They stay in its report's
   * `failed`: it did not deliver them.
   */
  carry(failed: FailedDelivery[]): void {
    const byEntry = new Map<number, string[]>();
    for (const f of failed) {
      const index = this.#yielded.get(f.connectionId);
      if (index === undefined || !this.#messages.has(index) || !isTransient(f.reason)) continue;
      byEntry.set(index, [...(byEntry.get(index) ?? []), f.connectionId]);
    }
    for (const [index, ids] of byEntry) {
      const messages = continuationsOf(this.#messages.get(index)!, { cursor: undefined, done: true }, [...new Set(ids)]);
      this.#send(messages, (error) => {
        this.unresolved.push({
          target: messages[0]!.target,
          ...(messages[0]!.room === undefined ? {} : { room: messages[0]!.room }),
          reason: 'queue',
          error,
          reached: 0,
        });
      });
    }
  }

  /** Waits for the messages to reach the queue (or fail; the config's signal cuts the sends). */
  async settled(): Promise<void> {
    await Promise.all(this.#sends);
  }

  #enqueue(entry: StoreEntry, index: number, shards: { shard: number; cursor?: string; reached: number }[], alsoExcept: () => Iterable<string>): void {
    const unresolvedFor = (shard: number, reached: number, error: string): UnresolvedEntry => ({
      target: entry.kind,
      ...(entry.kind === 'room' ? { room: entry.room } : { shard }),
      reason: 'queue',
      error,
      reached,
    });
    let endpoint: string;
    try {
      endpoint = this.#config.endpoint();
    } catch (error) {
      for (const s of shards) this.unresolved.push(unresolvedFor(s.shard, s.reached, String((error as Error)?.message ?? error)));
      return;
    }
    const extra = [...alsoExcept()].filter((id) => !entry.except.has(id));
    const except = [...entry.except, ...(extra.length <= maxDedupeExcept ? extra : [])];
    const common = {
      v: 1 as const,
      id: `${this.#config.origin}/${index}`,
      target: entry.kind,
      ...(entry.kind === 'room' ? { room: entry.room } : { shards: this.#store.shards }),
      ...(except.length > 0 ? { except } : {}),
      ...encodePayload(entry.payload),
      endpoint,
      hop: 0,
    };
    const messages: FanoutMessage[] = shards.map((s) => ({
      ...common,
      ...(entry.kind === 'all' ? { shard: s.shard } : {}),
      ...(s.cursor === undefined ? {} : { cursor: s.cursor }),
    }));
    this.#messages.set(index, { ...messages[0]!, cursor: undefined });
    this.#send(messages, (error, i) => this.unresolved.push(unresolvedFor(shards[i]!.shard, shards[i]!.reached, error)));
  }

  #send(messages: FanoutMessage[], failed: (error: string, index: number) => void): void {
    this.#sends.push(
      (async () => {
        const outcome = await this.#config.queue.send(messages.map(bodyOf), this.#config.signal);
        this.spilled += messages.length - outcome.failed.length;
        for (const i of outcome.failed) failed(outcome.error ?? 'not sent', i);
      })(),
    );
  }
}
