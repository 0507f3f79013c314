// Chat clients on the gateway running test/fixtures/template.yaml (the real handlers): open one,
// join a room, and learn the connection id from the `joined` the joiner itself receives.
import { openAs, type TestClient } from './support.ts';

export interface ChatClient {
  client: TestClient;
  id: string;
}

/**
 * Opens a client logged in as `name` (a dev token) and joins `room`. Joins must not run
 * concurrently for the same room: the first `joined` a new member receives is then its own.
 * `extra` goes to /dev/token (e.g. { scope: 'chat:broadcast' }).
 */
export const joinAs = async (wsUrl: string, name: string, room: string, extra: Record<string, string> = {}): Promise<ChatClient> => {
  const client = await openAs(wsUrl, name, extra);
  client.send({ action: 'join', room });
  const [joined] = await client.waitFor((d) => d?.type === 'joined' && d.room === room);
  return { client, id: joined.connectionId };
};

export const messagesWithText = (c: ChatClient, text: string): any[] => c.client.matching((d) => d?.type === 'message' && d.text === text);
