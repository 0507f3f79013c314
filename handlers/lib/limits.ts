import { createError } from '@middy/util';
import { checkNumber } from 'ws-outbox/util';
import type { Store } from 'ws-outbox';

// The chat's abuse limits. Each can be changed through the function's environment; a bad value
// fails when the function loads, naming the variable.
const fromEnv = (name: string, fallback: number, min: number, integer = true): number => {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : checkNumber(name, Number(raw), { min, integer });
};

export const limits = {
  /** Client messages per second per connection, sustained (RATE_PER_SECOND). */
  ratePerSecond: fromEnv('RATE_PER_SECOND', 5, Number.MIN_VALUE, false),
  /** Messages a connection may send at once after a quiet spell (RATE_BURST). */
  burst: fromEnv('RATE_BURST', 10, 1),
  /** Rooms one connection may be in (MAX_ROOMS_PER_CONNECTION). */
  maxRoomsPerConnection: fromEnv('MAX_ROOMS_PER_CONNECTION', 20, 1),
  /** Members one room may have (MAX_ROOM_MEMBERS); every send to it costs one post per member. */
  maxRoomMembers: fromEnv('MAX_ROOM_MEMBERS', 1000, 1),
};

/**
 * Refuses a join that would put the connection in too many rooms, or a room over its member cap.
 * A re-join of a room it is already in always passes. The checks read before the join writes, so
 * concurrent joins can overshoot a cap by the joins in flight: for one connection at most its rate
 * limit's burst; for a room, joins of different connections at the same instant.
 */
export const checkJoinCaps = async (store: Store, connectionId: string, room: string, caps: Pick<typeof limits, 'maxRoomsPerConnection' | 'maxRoomMembers'> = limits): Promise<void> => {
  const rooms = await store.roomsOf(connectionId);
  if (rooms.includes(room)) return;
  if (rooms.length >= caps.maxRoomsPerConnection) {
    throw createError(403, `you are in ${rooms.length} rooms, the most one connection may join (${caps.maxRoomsPerConnection}): leave one first`);
  }
  let members = 0;
  // Counted up to the cap only: a room at its cap costs one page, not a read of all of it.
  for await (const _ of store.members(room)) if (++members >= caps.maxRoomMembers) break;
  if (members >= caps.maxRoomMembers) throw createError(403, `room "${room}" is full (${caps.maxRoomMembers} members)`);
};
