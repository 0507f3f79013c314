import type { SessionCapable } from '../store/sessions.ts';
import type { Store } from '../store/store.ts';

/** What these read of a $disconnect event (any WsEvent, whatever its authorizer type). */
export interface DisconnectEvent {
  requestContext: { connectionId: string; disconnectStatusCode?: number };
}

/**
 * An explicit close: the client closed with 1000 (Normal Closure), which `ws-outbox/client`'s
 * close() does. A blip (1006), API Gateway's idle timeout and 2-hour cap (1001), a tab that goes
 * away (1001) keep the session for its window.
 */
export const closedExplicitly = (event: DisconnectEvent): boolean => event.requestContext.disconnectStatusCode === 1000;

export interface DisconnectOutcome {
  /** The rooms the connection was in. */
  rooms: string[];
  /** True when nothing of it outlives the connection: no session, or an explicit close ended it. */
  ended: boolean;
}

/**
 * For $disconnect: removes the connection's rows, and ends its session on an explicit close or
 * keeps it for the recovery window otherwise (a resume within it gets the rooms back).
 */
export const disconnectSession = async (store: Store, event: DisconnectEvent): Promise<DisconnectOutcome> => {
  const connectionId = event.requestContext.connectionId;
  const info = await store.get(connectionId);
  await store.disconnect(connectionId);
  const sessions = (store as Store & SessionCapable).sessions;
  if (info?.session === undefined || sessions === undefined) return { rooms: info?.rooms ?? [], ended: true };
  const explicit = closedExplicitly(event);
  // Either is a no-op when a resume has already moved the session to another connection.
  if (explicit) await sessions.end(info.session, connectionId);
  else await sessions.detach(info.session, connectionId);
  return { rooms: info.rooms, ended: explicit };
};
