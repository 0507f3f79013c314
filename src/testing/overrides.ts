import type { Transport } from '../management/transport.ts';
import type { Store } from '../store/store.ts';
import type { DeliveryReport } from '../types.ts';

// The testing helper hands a finished wsHandler an in-memory transport and store through the
// context it invokes with, so an app's handler module needs no test-only wiring or globals.
const key = Symbol.for('ws-outbox.testing');

export interface TestingOverrides {
  transport?: Transport;
  store?: Store;
  /** Sees every report, beside the handler's own onReport. */
  onReport?: (report: DeliveryReport) => void;
  /**
   * The harness answers 410 only for connections that are really gone (it runs no $connect
   * concurrently with other invocations), so it needs no grace for connections still connecting.
   */
  connectGraceMs?: number;
}

export const withTestingOverrides = <T extends object>(context: T, overrides: TestingOverrides): T => Object.assign(context, { [key]: overrides });

export const testingOverrides = (context: object): TestingOverrides | undefined => (context as Record<symbol, TestingOverrides | undefined>)[key];
