// Client sends, acknowledged and run once. ws-outbox/client gives each message it sends an id,
// `"$cid"` in the frame (a reserved name: an app's own fields are never taken for it), and keeps
// it until the server answers `{"type":"ack","cid"}` (the route ran) or an `{"type":"error","cid",…}`
// (it refused). The body parser takes `$cid` out of the body before any middleware or route sees
// it (takeClientSendId), so validators and routes that forward the body meet the app's fields only. A frame written as the socket went may or may not have
// reached API Gateway, so after a resume the client sends what is unanswered again, with the same
// cid. The session store's claim makes that resend run the route once: the first invocation
// claims the cid before the route runs, marks it done after, and releases it when the route fails.
// Only with sessions on (the session frame says `acks: true`): the claim lives in the session store.
import { createError } from '@middy/util';
import type { SessionCapable, Sessions } from '../store/sessions.ts';
import type { WsContext, WsEvent, WsOutbox } from '../types.ts';

/** The cid the client library writes: URL-safe, at most 64 characters. */
const cidPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** What the route's settlement needs to know of this invocation's client send. */
interface ClientSend {
  cid: string;
  userId: string;
  sessions: Sessions;
  /** This invocation claimed it: it marks it done, or releases it, when it settles. */
  claimed?: true;
  /** Answered already (a resend of one that ran): the settlement adds nothing. */
  answered?: true;
}

const sendsByOutbox = new WeakMap<WsOutbox, ClientSend>();
/** The `$cid` the body parser took out of each event's body. */
const idsByEvent = new WeakMap<object, string>();

/** The field ws-outbox/client writes its send's id in. */
export const clientSendIdField = '$cid';

/**
 * Takes the client send's id out of a parsed body (the body parser calls it): kept for the
 * settlement, gone from what the app sees. A `$cid` of another shape is refused (400).
 */
export const takeClientSendId = (event: object, body: unknown): void => {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !(clientSendIdField in body)) return;
  const cid = (body as Record<string, unknown>)[clientSendIdField];
  delete (body as Record<string, unknown>)[clientSendIdField];
  if (typeof cid !== 'string' || !cidPattern.test(cid)) throw createError(400, '"$cid" must be 1 to 64 characters of A-Z, a-z, 0-9, "-" and "_"');
  idsByEvent.set(event, cid);
};

/**
 * The `$cid` of a body too large to parse, so that its refusal (413) still names it and the client
 * is not left to time out. ws-outbox/client writes it as the body's last field, so only the tail
 * is read: nothing of the rest is parsed.
 */
export const noteOversizedClientSendId = (event: object, text: string): void => {
  const cid = /,?"\$cid":"([A-Za-z0-9_-]{1,64})"\}\s*$/.exec(text.slice(-96))?.[1];
  if (cid !== undefined) idsByEvent.set(event, cid);
};

/**
 * The client send this event carries, when the server acknowledges sends: a message (not
 * $connect/$disconnect) from a verified user, with sessions on, whose body had a `$cid`.
 */
export const clientSendOf = (event: WsEvent, context: WsContext): ClientSend | undefined => {
  const cid = idsByEvent.get(event);
  if (cid === undefined || event.requestContext?.eventType !== 'MESSAGE') return undefined;
  const userId = event.requestContext.authorizer?.principalId;
  const sessions = sessionsOf(context);
  if (typeof userId !== 'string' || userId === '' || sessions === undefined) return undefined;
  return { cid, userId, sessions };
};

const sessionsOf = (context: WsContext): Sessions | undefined => {
  try {
    return (context.store as SessionCapable).sessions;
  } catch {
    return undefined; // no store: no sessions
  }
};

/**
 * Claims the event's client send before the route runs, within `budgetMs`. Resolves true when the
 * route must not run: a resend of one that ran (acknowledged again, `duplicate: true`). Throws 409
 * for one an earlier invocation still holds past the budget (its outcome is unknown here, and the
 * client is told so, never left silent), and 503 when the store does not answer within the budget
 * (the invocation keeps its time for the flush). Both errors reach the client naming the cid.
 */
export const claimClientSend = async (event: WsEvent, context: WsContext, budgetMs: number): Promise<boolean> => {
  const send = clientSendOf(event, context);
  if (send === undefined) return false;
  sendsByOutbox.set(context.outbox, send);
  const deadline = Date.now() + budgetMs;
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(budgetMs)));
  for (let pauseMs = 50; ; pauseMs *= 2) {
    let claim: Awaited<ReturnType<Sessions['claimSend']>>;
    try {
      claim = await send.sessions.claimSend(send.userId, send.cid, { signal });
    } catch (error) {
      if (signal.aborted) throw createError(503, `the connection store did not answer within ${Math.round(budgetMs)} ms: send it again`, { cause: error });
      throw error;
    }
    if (claim === 'claimed') {
      send.claimed = true;
      return false;
    }
    if (claim === 'done') {
      context.outbox.reply({ type: 'ack', cid: send.cid, duplicate: true });
      send.answered = true;
      return true;
    }
    // `running`: the first copy's invocation has not settled (a resend right after a drop). It
    // settles within its function's timeout; wait a little for it, as far as the budget allows.
    if (Date.now() + pauseMs > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  // `outcomeUnknown`: the error reply says so (`"unknown":true`), and the client reports it as such.
  throw Object.assign(createError(409, 'an earlier copy of this message is still being handled: whether it succeeds is not known here'), {
    outcomeUnknown: true,
  });
};

/**
 * This invocation's client send, for its settlement: the one claimed, or (when the route never ran:
 * a rate limit or another middleware refused first) the one the event names.
 */
export const clientSendFor = (event: WsEvent, context: WsContext): ClientSend | undefined => sendsByOutbox.get(context.outbox) ?? clientSendOf(event, context);

/**
 * At the route's settlement: the answer the client waits for, and the claim's end.
 * - `ran`: the route ran and what it enqueued goes out (it did not throw). The claim is kept as
 *   done, even when it answered non-2xx: a resend must not run it, and post its messages, again.
 * - `ok`: it ran and answered 2xx: an ack. Otherwise `refusal` is the error reply's message, when
 *   no error reply was enqueued for it already.
 * A route that threw sent nothing: its claim is released, so a resend runs it. Resolves once the
 * claim is marked.
 */
export const settleClientSend = (
  outbox: { reply(message: unknown): void },
  send: ClientSend,
  outcome: { ran: boolean; ok: boolean; refusal?: string; signal?: AbortSignal },
): Promise<void> | undefined => {
  if (send.answered) return undefined;
  if (outcome.ok) outbox.reply({ type: 'ack', cid: send.cid });
  else if (outcome.refusal !== undefined) outbox.reply({ type: 'error', cid: send.cid, message: outcome.refusal });
  return send.claimed ? send.sessions.finishSend(send.userId, send.cid, outcome.ran, { signal: outcome.signal }) : undefined;
};
