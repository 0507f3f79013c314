import { createError } from '@middy/util';
import { badRequest } from '../errors.ts';
import { ConnectionStore } from '../store/connection-store.ts';
import { roomStream } from '../store/room-log.ts';
import type { Store } from '../store/store.ts';
import type { WsContext, WsEvent } from '../types.ts';
import { wsHandler, type WsHandlerOptions, type WsLambdaHandler } from '../ws-handler.ts';
import { lostStart, replayTo } from './replay.ts';
import { resumeSession, type ResumeRequest } from './resume.ts';

/**
 * The session route of `ws-outbox/client`, one function for three actions (map the routes
 * `resume`, `history` and `ping` to it in the template):
 *
 *   {"action":"resume","session":<token|null>,"rooms":{"R":<seq>},"useq":<seq>}
 *        → {"type":"session",…} then {"type":"replay",…} frames (resume.ts)
 *   {"action":"history","room":"R","after":<seq>}
 *        → {"type":"replay","room":"R","head":H,"messages":[…]} (+ "reset":"expired" when the start is gone)
 *   {"action":"ping"} → {"type":"pong"}: a data frame each way, which is what API Gateway counts
 *        against its 10-minute idle timeout (a WebSocket ping frame is not a message to it).
 */
export const sessionHandler = (options: WsHandlerOptions = {}): WsLambdaHandler =>
  wsHandler<Record<string, unknown>>(async (event, context) => {
    const action = event.body?.action;
    if (action === 'ping') {
      context.outbox.reply({ type: 'pong' });
      return { statusCode: 200 };
    }
    const store = sessionStoreOf(context);
    const connectionId = event.requestContext.connectionId;
    if (action === 'resume') {
      await resumeSession({ store, outbox: context.outbox, connectionId, userId: userIdOf(event), request: resumeRequestOf(event.body) });
      return { statusCode: 200 };
    }
    if (action === 'history') {
      const room = event.body.room;
      const after = event.body.after;
      if (typeof room !== 'string' || room === '') throw badRequest('history needs "room"');
      if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) throw badRequest('history needs "after", the last sequence delivered');
      // Only a member reads a room's log.
      if (!(await store.roomsOf(connectionId)).includes(room)) throw createError(403, `not a member of room "${room}"`);
      const read = await store.log!.read(roomStream(room), after);
      const replay = { stream: { room }, after, read };
      const lost = lostStart(replay);
      if (lost && !read.complete) replay.read = { entries: [], head: read.head, complete: true };
      replayTo(context.outbox, replay, lost ? { reset: read.complete ? 'expired' : 'too-many' } : {});
      return { statusCode: 200 };
    }
    throw badRequest(`unknown session action ${JSON.stringify(action)} (resume, history, ping)`);
  }, options);

/** The verified user: sessions belong to one, so a connection without an authorizer has none. */
export const userIdOf = (event: WsEvent): string => {
  const userId = event.requestContext.authorizer?.principalId;
  if (typeof userId !== 'string' || userId === '') throw createError(401, 'sessions need a verified user (a $connect authorizer that returns a principalId)');
  return userId;
};

const sessionStoreOf = (context: WsContext): ConnectionStore => {
  const store: Store = context.store;
  if (!(store instanceof ConnectionStore) || !store.sessions || !store.log) {
    throw new Error('sessions are off: set SESSION_WINDOW_SECONDS (every function on the table), or pass a ConnectionStore with { sessions }');
  }
  return store;
};

const resumeRequestOf = (body: Record<string, unknown>): ResumeRequest => {
  const { session, rooms, useq } = body;
  if (session !== undefined && session !== null && typeof session !== 'string') throw badRequest('"session" must be the resume token (a string) or null');
  if (rooms !== undefined && (typeof rooms !== 'object' || rooms === null || Array.isArray(rooms))) throw badRequest('"rooms" must map room names to their last sequence');
  if (useq !== undefined && typeof useq !== 'number') throw badRequest('"useq" must be a number');
  return { session: session as string | null | undefined, rooms: rooms as Record<string, number> | undefined, useq: useq as number | undefined };
};
