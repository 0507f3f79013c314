// Chat clients on the gateway running test/fixtures/template.yaml (the real handlers): open one,
// join a room, and learn the connection id from the `joined` the joiner itself receives.
import { TestClient } from './support.ts';

export interface ChatClient {
  client: TestClient;
  id: string;
}

/**
 * Opens a client and joins `room`. Joins must not run concurrently for the same room: the first
 * `joined` a new member receives is then its own.
 */
export const joinAs = async (wsUrl: string, name: string, room: string): Promise<ChatClient> => {
  const client = await TestClient.open(`${wsUrl}?name=${encodeURIComponent(name)}`);
  client.send({ action: 'join', room });
  const [joined] = await client.waitFor((d) => d?.type === 'joined' && d.room === room);
  return { client, id: joined.connectionId };
};

export const messagesWithText = (c: ChatClient, text: string): any[] => c.client.matching((d) => d?.type === 'message' && d.text === text);
