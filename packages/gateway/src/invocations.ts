// The ledger of invocations the gateway has started: which function and route each request id
// belongs to, and whether it has returned. The management API looks requests up here to tell a
// send made during an invocation from a LATE SEND made by one that had already returned.

export interface InvocationRecord {
  requestId: string;
  logicalId: string;
  functionName: string;
  route?: string;
  startedAt: number;
  endedAt?: number;
  outcome?: 'ok' | 'error' | 'timeout';
}

export interface LateSend {
  requestId: string;
  functionName: string;
  route?: string;
  method: string;
  connectionId: string;
  /** How long after the invocation returned the request reached the gateway. */
  afterMs: number;
  at: number;
}

export class InvocationLedger {
  readonly #records = new Map<string, InvocationRecord>();
  readonly #limit: number;

  constructor(limit = 50_000) {
    this.#limit = limit;
  }

  start(record: Omit<InvocationRecord, 'startedAt'>): InvocationRecord {
    const full = { ...record, startedAt: Date.now() };
    this.#records.set(record.requestId, full);
    // Oldest first: a Map iterates in insertion order.
    if (this.#records.size > this.#limit) this.#records.delete(this.#records.keys().next().value!);
    return full;
  }

  finish(requestId: string, outcome: InvocationRecord['outcome']): void {
    const record = this.#records.get(requestId);
    if (record) Object.assign(record, { endedAt: Date.now(), outcome });
  }

  get(requestId: string): InvocationRecord | undefined {
    return this.#records.get(requestId);
  }
}
