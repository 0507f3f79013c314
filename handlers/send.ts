import { wsHandler } from '../src/index.ts';
import { validObject, validRoom, validText } from './lib/protocol.ts';

/**
 * {"action":"send","room":"R","text":"…"}: every member of R, the sender included.
 * {"action":"send","text":"…"}: every connected client.
 */
export const handler = wsHandler(async (event, context) => {
  const body = validObject(event.body);
  const text = validText(body.text);
  const from = event.requestContext.connectionId;
  if (body.room === undefined) {
    context.outbox.toAll({ type: 'message', from, text });
    return { statusCode: 200 };
  }
  const room = validRoom(body.room);
  const message = { type: 'message', room, from, text };
  context.outbox.toRoom(room, message);
  context.outbox.send(from, message);
  return { statusCode: 200 };
});
