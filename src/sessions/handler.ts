import { createError } from '@middy/util';
import { badRequest } from '../errors.ts';
import type { SessionCapable } from '../store/sessions.ts';
import { roomStream, userStream } from '../store/room-log.ts';
import type { Store } from '../store/store.ts';
import type { WsContext, WsEvent } from '../types.ts';
import { wsHandler, type WsHandlerOptions, type WsLambdaHandler } from '../ws-handler.ts';
import { continueAfter, lostStart, replayTo, type StreamReplay } from './replay.ts';
import { resumeSession, type ResumeRequest } from './resume.ts';

/**
 * The session route of `ws-outbox/client`, one function for three actions (map the routes
 * `resume`, `history` and `ping` to it in the template):
 *
 *   {"action":"resume","session":<token|null>,"rooms":{"R":<seq>},"useq":<seq>}
 *        → {"type":"session",…} then {"type":"replay",…} frames (resume.ts)
 *   {"action":"history","room":"R","after":<seq>}   (or "user":true for toUser messages)
 *        → {"type":"replay","room":"R","head":H,"fetched":true,"messages":[…]}
 *          (+ "reset":"expired","after":A when the start is gone: the stream continues after A)
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
      const { room, user, after } = event.body;
      if (user !== true && (typeof room !== 'string' || room === '')) throw badRequest('history needs "room" (or "user": true)');
      if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) throw badRequest('history needs "after", the last sequence delivered');
      let stream: StreamReplay['stream'];
      let key: string;
      if (user === true) {
        stream = { user: true };
        key = userStream(userIdOf(event));
      } else {
        // Only a member reads a room's log.
        if (!(await store.roomsOf(connectionId)).includes(room as string)) throw createError(403, `not a member of room "${room as string}"`);
        stream = { room: room as string };
        key = roomStream(room as string);
      }
      const read = await store.log.read(key, after);
      const replay: StreamReplay = { stream, after, read };
      const lost = lostStart(replay);
      const reset = lost ? { reset: read.complete ? 'expired' : 'too-many', after: continueAfter(read) } : {};
      if (lost && !read.complete) replay.read = { entries: [], head: read.head, complete: true };
      // `fetched`: the client may skip what is still missing below what it holds (never sent).
      replayTo(context.outbox, replay, { ...reset, fetched: true });
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

type SessionStoreOf = Store & Required<SessionCapable>;
const sessionStoreOf = (context: WsContext): SessionStoreOf => {
  const store = context.store as Store & SessionCapable;
  if (!store.sessions || !store.log) {
    throw new Error(
      'sessions are off: set SESSION_WINDOW_SECONDS (every function on the table), or pass a store with { sessions } (ConnectionStore, MemoryStore)',
    );
  }
  return store as SessionStoreOf;
};

const resumeRequestOf = (body: Record<string, unknown>): ResumeRequest => {
  const { session, rooms, useq } = body;
  if (session !== undefined && session !== null && typeof session !== 'string') throw badRequest('"session" must be the resume token (a string) or null');
  if (rooms !== undefined && (typeof rooms !== 'object' || rooms === null || Array.isArray(rooms)))
    throw badRequest('"rooms" must map room names to their last sequence');
  if (useq !== undefined && typeof useq !== 'number') throw badRequest('"useq" must be a number');
  return { session: session as string | null | undefined, rooms: rooms as Record<string, number> | undefined, useq: useq as number | undefined };
};
