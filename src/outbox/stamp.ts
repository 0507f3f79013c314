import { forEachBounded } from '../bounded.ts';
import { roomStream, userStream, type MessageLog } from '../store/room-log.ts';
import type { UnresolvedEntry } from '../types.ts';
import type { Entry } from './outbox.ts';

/**
 * Before anything is read or sent: every toRoom/toUser message that is a JSON object gets its
 * stream's next sequence (`seq` with `room`, or `useq`) and is written to the room log, in enqueue
 * order within a stream, so that every member sees one order and a client that reconnects within
 * the window gets it back. One UpdateItem per stream reserves the flush's sequences; one
 * BatchWriteItem per 25 entries writes them.
 *
 * An entry whose log write fails is not sent (it is `unresolved`, reason `store`): a message that
 * reached some members but could never be replayed to the others would break the room's order.
 * Strings and bytes cannot carry a sequence: they go out as before, unlogged.
 */
export const stampEntries = async (
  entries: Entry[],
  log: MessageLog,
  options: { signal: AbortSignal; unresolved: UnresolvedEntry[]; parallel?: number },
): Promise<Entry[]> => {
  type Logged = Extract<Entry, { kind: 'room' | 'user' }>;
  // Per stream: its entries, and the distinct messages among them (the same message object to the
  // same room twice is one message: the flush sends it once).
  const streams = new Map<string, { target: 'room' | 'user'; name: string; entries: Logged[]; messages: Uint8Array[] }>();
  for (const entry of entries) {
    if ((entry.kind !== 'room' && entry.kind !== 'user') || !isJsonObject(entry.payload)) continue;
    const [target, name] = entry.kind === 'room' ? (['room', entry.room] as const) : (['user', entry.userId] as const);
    const stream = target === 'room' ? roomStream(name) : userStream(name);
    const group = streams.get(stream) ?? { target, name, entries: [], messages: [] };
    group.entries.push(entry);
    if (!group.messages.includes(entry.payload)) group.messages.push(entry.payload);
    streams.set(stream, group);
  }
  if (streams.size === 0) return entries;

  // Stamped bytes per room/user entry, and per message for the direct sends of the same object.
  const byEntry = new Map<Entry, Uint8Array>();
  const byMessage = new Map<Uint8Array, Uint8Array>();
  const failed = new Set<Entry>();
  await forEachBounded([...streams], options.parallel ?? 8, async ([stream, group]) => {
    try {
      options.signal.throwIfAborted();
      const first = await log.allocate(stream, group.messages.length, options.signal);
      const written = group.messages.map((message, index) => {
        const seq = first + index;
        const fields = group.target === 'room' ? { room: group.name, seq } : { useq: seq };
        return { message, seq, payload: encoder.encode(JSON.stringify({ ...JSON.parse(decoder.decode(message)), ...fields })) };
      });
      await log.append(
        stream,
        written.map(({ seq, payload }) => ({ seq, payload })),
        options.signal,
      );
      const stampOf = new Map(written.map(({ message, payload }) => [message, payload]));
      for (const entry of group.entries) byEntry.set(entry, stampOf.get(entry.payload)!);
      for (const { message, payload } of written) if (!byMessage.has(message)) byMessage.set(message, payload);
    } catch (error) {
      for (const entry of group.entries) {
        failed.add(entry);
        options.unresolved.push({
          target: group.target,
          ...(group.target === 'room' ? { room: group.name } : { userId: group.name }),
          reason: options.signal.aborted ? 'deadline' : 'store',
          error: `room log: ${String((error as Error)?.message ?? error)}`,
          reached: 0,
        });
      }
    }
  });

  // A direct send of the same message object (the sender addressed beside its room) carries the
  // same stamp, so the flush still sends it once, and the sender sees the room's sequence too.
  const out: Entry[] = [];
  for (const entry of entries) {
    if (entry.kind === 'disconnect') out.push(entry);
    else if (failed.has(entry)) continue;
    else out.push({ ...entry, payload: byEntry.get(entry) ?? byMessage.get(entry.payload) ?? entry.payload } as Entry);
  }
  return out;
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const openBrace = 0x7b;
const closeBrace = 0x7d;
const isJsonObject = (payload: Uint8Array): boolean => {
  if (payload[0] !== openBrace || payload[payload.length - 1] !== closeBrace) return false;
  try {
    const value = JSON.parse(decoder.decode(payload));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
};
