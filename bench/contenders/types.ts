// What every contender implements: one broadcast of the same body to the same ids, counted.

export interface BroadcastResult {
  sent: number;
  gone: number;
  failed: number;
}

export interface Contender {
  broadcast(ids: readonly string[], body: Uint8Array): Promise<BroadcastResult>;
  close(): Promise<void> | void;
}

export interface ContenderOptions {
  /** The management endpoint, stage path included (the sink). */
  endpoint: string;
  region: string;
  /** Sockets / requests in flight, for the contenders that bound it. */
  concurrency: number;
  /** Set only when the harness sweeps concurrency; the outbox otherwise runs with its defaults. */
  explicitConcurrency?: number;
}
