// Per-stream order and dedupe: a room's messages carry `room` and `seq`, a user's `useq`
// (stamped by the server's outbox, one sequence per room). The app gets each message once, in
// sequence order; one that arrives ahead of a missing one is held until the gap fills, is fetched
// (history), or is declared gone (a reset, or a sequence that was never sent).

/** A message as it came off the socket, parsed. */
export type Incoming = Record<string, unknown>;

/** `room:<name>` or `user`. */
export type StreamKey = string;
export const roomKey = (room: string): StreamKey => `room:${room}`;
export const userKey: StreamKey = 'user';

interface Stream {
  /** Everything up to here was delivered (or declared gone). */
  last: number;
  held: Map<number, Incoming>;
  /** Sequences delivered lately, to drop a copy that comes again (a replay overlapping live delivery, a retried POST). */
  recent: Set<number>;
  gapTimer?: ReturnType<typeof setTimeout>;
  /** Fetches answered while the same gap stayed open. */
  fetches: number;
}

export interface StreamsOptions {
  /** How long a message waits for a missing one before the client asks the server (history). */
  gapTimeoutMs: number;
  /** Sequences remembered per stream for dedupe. */
  recentSize: number;
  deliver: (message: Incoming) => void;
  /** A copy of a delivered (or held) message came again and was dropped. */
  duplicate?: (message: Incoming) => void;
  /** A gap did not fill in time: fetch what came after `after`. */
  fetch: (key: StreamKey, after: number) => void;
}

export class Streams {
  readonly #streams = new Map<StreamKey, Stream>();
  readonly #options: StreamsOptions;

  constructor(options: StreamsOptions) {
    this.#options = options;
  }

  /** Where each stream stands: what a resume asks to continue after. */
  positions(): { rooms: Record<string, number>; useq?: number } {
    const rooms: Record<string, number> = {};
    for (const [key, stream] of this.#streams) if (key.startsWith('room:')) rooms[key.slice(5)] = stream.last;
    const user = this.#streams.get(userKey);
    return user === undefined ? { rooms } : { rooms, useq: user.last };
  }

  /** The stream a message belongs to and its sequence, or undefined for an unsequenced one. */
  static keyOf(message: Incoming): [StreamKey, number] | undefined {
    if (typeof message.seq === 'number' && typeof message.room === 'string') return [roomKey(message.room), message.seq];
    if (typeof message.useq === 'number') return [userKey, message.useq];
    return undefined;
  }

  /** A sequenced message, live or replayed. */
  ingest(key: StreamKey, seq: number, message: Incoming): void {
    let stream = this.#streams.get(key);
    if (stream === undefined) {
      // The first message of a stream the client had no position in (a room it just joined).
      stream = { last: seq - 1, held: new Map(), recent: new Set(), fetches: 0 };
      this.#streams.set(key, stream);
    }
    if (stream.recent.has(seq) || stream.held.has(seq)) {
      this.#options.duplicate?.(message);
      return;
    }
    if (seq <= stream.last) {
      // Unseen, yet behind the position: a message that was in flight while the stream began, or
      // one whose gap was declared gone too early. Late rather than lost.
      this.#deliver(stream, seq, message);
      return;
    }
    if (seq === stream.last + 1) {
      stream.last = seq;
      this.#deliver(stream, seq, message);
      this.#drain(stream);
      return;
    }
    stream.held.set(seq, message);
    this.#armGap(key, stream);
  }

  /** Sets where a stream continues (a server-given position): held messages up to it go out first, in order. */
  rebase(key: StreamKey, after: number): void {
    const stream = this.#streams.get(key) ?? { last: after, held: new Map(), recent: new Set(), fetches: 0 };
    this.#streams.set(key, stream);
    for (const seq of [...stream.held.keys()].sort((a, b) => a - b)) {
      if (seq > after) break;
      const message = stream.held.get(seq)!;
      stream.held.delete(seq);
      stream.last = Math.max(stream.last, seq);
      this.#deliver(stream, seq, message);
    }
    stream.last = Math.max(stream.last, after);
    this.#drain(stream);
  }

  /**
   * A fetch (history) came back and was ingested. What is still missing below a held message was
   * never sent (its invocation failed after taking the sequence), or is still being written by an
   * invocation that took it a moment ago: so the gap is fetched once more, and only then skipped
   * (the message, if it comes after all, is delivered late rather than lost).
   */
  settle(key: StreamKey, fetchesBeforeSkip = 2): void {
    const stream = this.#streams.get(key);
    if (stream === undefined || stream.held.size === 0) return;
    stream.fetches += 1;
    if (stream.fetches < fetchesBeforeSkip) {
      this.#armGap(key, stream);
      return;
    }
    this.rebase(key, Math.min(...stream.held.keys()) - 1);
  }

  /** The client is no longer in this stream (a new session without it). */
  forget(key: StreamKey): void {
    const stream = this.#streams.get(key);
    if (stream?.gapTimer !== undefined) clearTimeout(stream.gapTimer);
    this.#streams.delete(key);
  }

  has(key: StreamKey): boolean {
    return this.#streams.has(key);
  }

  keys(): StreamKey[] {
    return [...this.#streams.keys()];
  }

  /** Held messages, for the app's curiosity and the tests. */
  get holding(): number {
    let held = 0;
    for (const stream of this.#streams.values()) held += stream.held.size;
    return held;
  }

  /** Stops every gap timer (the client closed). */
  stop(): void {
    for (const stream of this.#streams.values()) if (stream.gapTimer !== undefined) clearTimeout(stream.gapTimer);
  }

  /** A gap timer fires again for the same stream only when the held messages still wait. */
  rearm(key: StreamKey): void {
    const stream = this.#streams.get(key);
    if (stream !== undefined && stream.held.size > 0) this.#armGap(key, stream);
  }

  #drain(stream: Stream): void {
    let next = stream.held.get(stream.last + 1);
    while (next !== undefined) {
      stream.held.delete(stream.last + 1);
      stream.last += 1;
      this.#deliver(stream, stream.last, next);
      next = stream.held.get(stream.last + 1);
    }
    if (stream.held.size === 0) {
      stream.fetches = 0;
      if (stream.gapTimer !== undefined) clearTimeout(stream.gapTimer);
      stream.gapTimer = undefined;
    }
  }

  #armGap(key: StreamKey, stream: Stream): void {
    if (stream.gapTimer !== undefined) return;
    stream.gapTimer = setTimeout(() => {
      stream.gapTimer = undefined;
      if (stream.held.size > 0) this.#options.fetch(key, stream.last);
    }, this.#options.gapTimeoutMs);
  }

  #deliver(stream: Stream, seq: number, message: Incoming): void {
    stream.recent.add(seq);
    if (stream.recent.size > this.#options.recentSize) stream.recent.delete(stream.recent.values().next().value!);
    this.#options.deliver(message);
  }
}
