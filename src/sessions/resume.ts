import { forEachBounded } from '../bounded.ts';
import type { SessionCapable } from '../store/sessions.ts';
import type { Store } from '../store/store.ts';
import { roomStream, userStream } from '../store/room-log.ts';
import type { WsOutbox } from '../types.ts';
import { continueAfter, lostStart, replayTo, type StreamReplay, type StreamReset } from './replay.ts';

/** What a client sends to begin or resume its session (`{"action":"resume", …}`). */
export interface ResumeRequest {
  /** The resume token of its last session; absent or null for a first connection. */
  session?: string | null;
  /** The last sequence it delivered, per room. */
  rooms?: Record<string, number>;
  /** The last `useq` (toUser message) it delivered. */
  useq?: number;
}

const validSeq = (seq: unknown): number => (typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : 0);

/** What the client is told first: `{"type":"session", …}`, then its replay frames. */
export type SessionReply = {
  type: 'session';
  /** This connection's id (the `from` of what it sends), new on every connection. */
  connectionId: string;
  /** The resume token to send next time (a new one when the old could not be resumed). */
  session: string;
  resumed: boolean;
  /** Messages replayed after this frame (room and user messages the client missed). */
  missed: number;
  /** The streams it had and does not get back in full, with why. */
  reset: StreamReset[];
  /** The session's rooms. */
  rooms: string[];
  /** Why the token was not resumed, in words. */
  refused?: string;
  /**
   * Sends with a `cid` are answered (`ack` or an `error` naming it) and run once, resends included
   * (acks.ts): the client keeps each until answered, and sends it again after a resume.
   */
  acks: true;
};

export interface ResumeInput {
  /** A store with sessions on (ConnectionStore or MemoryStore with `sessions`). */
  store: Store & SessionCapable;
  outbox: WsOutbox;
  connectionId: string;
  /** The verified user of this connection (the authorizer's principalId). */
  userId: string;
  request: ResumeRequest;
}

/**
 * Begins a session for a connection, or resumes the one its token names.
 *
 * Resume, in this order, so that nothing sent meanwhile is lost: the session moves to this
 * connection; the old connection's rows go (and the socket, if API Gateway still holds it); this
 * connection joins the session's rooms; only then are the logs read. A message whose recipients
 * were read before the joins was logged before that read (stamp.ts), so the log read finds it;
 * one read after the joins reaches this connection live. The client drops the one it gets twice
 * (by sequence) and orders by sequence.
 *
 * Only the session's own user can resume it: a token of someone else's session starts a fresh
 * session for the caller (told `refused`) and leaves the other session as it was.
 */
export const resumeSession = async (input: ResumeInput): Promise<SessionReply> => {
  const { store, outbox, connectionId, userId, request } = input;
  const sessions = store.sessions;
  const log = store.log;
  if (!sessions || !log) throw new Error('resumeSession: the store has no sessions (set SESSION_WINDOW_SECONDS, or pass { sessions } to the store)');
  const claimed = Object.entries(request.rooms ?? {});
  const token = typeof request.session === 'string' && request.session !== '' ? request.session : undefined;
  const found = token === undefined ? undefined : await sessions.get(token);

  if (token === undefined || found === undefined || found.userId !== userId || !(await sessions.attach(found.key, connectionId))) {
    const refused = found !== undefined && found.userId !== userId;
    const reason = token === undefined ? 'not-in-session' : refused ? 'refused' : 'unknown-session';
    const useq = await log.head(userStream(userId));
    const fresh = await sessions.create(userId, connectionId, useq);
    const reset: StreamReset[] = claimed.map(([room]) => ({ room, reason }));
    if (request.useq !== undefined) reset.push({ user: true, reason, after: useq });
    const reply: SessionReply = { type: 'session', connectionId, session: fresh.token, resumed: false, missed: 0, reset, rooms: [], acks: true };
    if (refused) reply.refused = 'the session belongs to another user';
    else if (token !== undefined) reply.refused = 'the session ended or its recovery window passed';
    outbox.reply(reply);
    replayTo(outbox, { stream: { user: true }, after: useq, read: { entries: [], head: useq, complete: true } });
    return reply;
  }

  const session = found;
  if (session.connectionId !== connectionId) {
    // Its rooms and its place in the user index move here. API Gateway may not have noticed that
    // the old socket is dead (no close frame): closing it stops a half-open socket from taking
    // messages nobody reads.
    await store.remove([session.connectionId]);
    outbox.disconnect(session.connectionId);
  }
  const rooms = Object.keys(session.rooms).sort();
  await forEachBounded(rooms, 8, (room) => store.join(connectionId, room));

  const reads: StreamReplay[] = [];
  await forEachBounded(rooms, 8, async (room) => {
    // Never before its own join: a token does not open what the room said before this session was in it.
    const after = Math.max(validSeq(request.rooms?.[room]), session.rooms[room] ?? 0);
    reads.push({ stream: { room }, after, read: await log.read(roomStream(room), after) });
  });
  const userAfter = Math.max(validSeq(request.useq), session.useq);
  const userRead: StreamReplay = { stream: { user: true }, after: userAfter, read: await log.read(userStream(userId), userAfter) };

  const reset: StreamReset[] = claimed.filter(([room]) => !(room in session.rooms)).map(([room]) => ({ room, reason: 'not-in-session' }));
  for (const replay of [...reads, userRead]) {
    if (!lostStart(replay)) continue;
    reset.push({
      ...('room' in replay.stream ? { room: replay.stream.room } : { user: true }),
      reason: replay.read.complete ? 'expired' : 'too-many',
      after: continueAfter(replay.read),
    });
    // Past maxReplay the client starts over from the head rather than from a partial replay.
    if (!replay.read.complete) replay.read = { entries: [], head: replay.read.head, complete: true };
  }
  reads.sort((a, b) => ('room' in a.stream && 'room' in b.stream ? a.stream.room.localeCompare(b.stream.room) : 0));
  const missed = [...reads, userRead].reduce((sum, replay) => sum + replay.read.entries.length, 0);
  const reply: SessionReply = { type: 'session', connectionId, session: token, resumed: true, missed, reset, rooms, acks: true };
  outbox.reply(reply);
  for (const replay of [...reads, userRead]) replayTo(outbox, replay);
  return reply;
};
