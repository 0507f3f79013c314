import { badRequest } from 'ws-outbox';
import { chatHandler } from './lib/chat-handler.ts';
import { validObject } from './lib/protocol.ts';

/**
 * $default: whatever matched no route — an unknown action, a missing one, or a frame that is not
 * JSON (the body parser answers that with a 400 before this runs). The caller gets an error.
 */
export const handler = chatHandler(async (event) => {
  const { action } = validObject(event.body);
  if (action === undefined) throw badRequest('missing field "action" (one of: join, leave, send)');
  throw badRequest(`unknown action ${JSON.stringify(action)} (one of: join, leave, send)`);
});
