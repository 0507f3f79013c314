// The IPC messages between the function pool and a worker (runtime.ts), and the header that ties
// an outgoing request to the invocation that started it.

export const invocationHeader = 'x-local-invocation';

/** The environment variable that carries the worker's EgressConfig (JSON); the runtime removes it. */
export const egressVariable = 'WS_OUTBOX_EGRESS';

/** The environment variable with the local CA's path for a Python worker (Node's reads NODE_EXTRA_CA_CERTS); bootstrap.py removes it. */
export const caVariable = 'WS_OUTBOX_CA_FILE';

export type ToWorker = {
  type: 'invoke';
  requestId: string;
  event: unknown;
  /** Epoch ms at which the function's Timeout runs out. */
  deadlineMs: number;
};

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export type FromWorker =
  | { type: 'ready'; initMs: number }
  | { type: 'init-error'; error: LambdaError }
  /** The worker is running (thawed) and has the invocation. */
  | { type: 'started'; requestId: string }
  /** `result` is the handler's return value as JSON, as Lambda serializes it. */
  | { type: 'result'; requestId: string; result: string }
  | { type: 'error'; requestId: string; error: LambdaError }
  /** A connection to an AWS host that has no local route was refused (see egress.ts). */
  | { type: 'egress-refused'; host: string; port: number; requestId?: string };
