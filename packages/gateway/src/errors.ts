// The gateway's errors, on the project's one base class (WsOutboxError, with a code).
import { WsOutboxError } from 'ws-outbox/util';

/** A template edit that cannot be applied to a running gateway (dev restarts it). */
export class RestartRequired extends WsOutboxError {
  constructor(message: string) {
    super('RESTART_REQUIRED', message);
  }
}
