import type { LogEntry, LogRead } from '../store/room-log.ts';
import type { WsOutbox } from '../types.ts';

/** Where a stream's replay starts, and what came back from the log. */
export interface StreamReplay {
  /** `{ room }` or `{ user: true }`: which of the client's streams. */
  stream: { room: string } | { user: true };
  /** The client's last sequence (or the session's start): replay is what came after it. */
  after: number;
  read: LogRead;
}

/** Why a stream was not recovered (the client is told, never left to guess). */
export type ResetReason = 'expired' | 'unknown-session' | 'refused' | 'not-in-session' | 'too-many';

export type StreamReset = {
  room?: string;
  user?: true;
  reason: ResetReason;
  /** Where the stream continues: what came before (and after the client's position) is gone. */
  after?: number;
};

/** Where a stream whose start was lost continues: before its first retained entry, or at the head. */
export const continueAfter = (read: LogRead): number => (read.complete && read.entries[0] !== undefined ? read.entries[0].seq - 1 : read.head);

/**
 * Whether a read lost the start of what the client missed: sequences after `after` that are no
 * longer in the log (expired with the window). Gaps further in are sequences handed out to a flush
 * that failed before writing them: those messages were sent to nobody.
 */
export const lostStart = ({ after, read }: Pick<StreamReplay, 'after' | 'read'>): boolean => {
  if (!read.complete) return true;
  if (read.head <= after) return false;
  // A position before the numbering began (a room joined before its first message) is its start.
  const from = Math.max(after, read.base ?? 0);
  const first = read.entries[0];
  return first === undefined || first.seq > from + 1;
};

// A frame stays well under API Gateway's 128 KB, whatever the messages' sizes (each is under it).
const frameBudget = 96 * 1024;
const decoder = new TextDecoder();

/**
 * Replays a stream's entries as few frames: `{"type":"replay","room":R,"head":H,"messages":[…]}`
 * (or `"user":true`), each message exactly the bytes that went out live. Enqueued on the caller's
 * connection, in order after whatever was enqueued before. Resolves with how many messages.
 */
export const replayTo = (outbox: WsOutbox, replay: StreamReplay, extra: Record<string, unknown> = {}): number => {
  const head = { type: 'replay', ...replay.stream, head: replay.read.head, ...extra };
  const prefix = `${JSON.stringify(head).slice(0, -1)},"messages":[`;
  let batch: string[] = [];
  let size = 0;
  const flush = (force: boolean) => {
    if (batch.length === 0 && !force) return;
    outbox.reply(`${prefix}${batch.join(',')}]}`);
    batch = [];
    size = 0;
  };
  for (const entry of replay.read.entries) {
    const text = textOf(entry);
    if (size + text.length > frameBudget) flush(false);
    batch.push(text);
    size += text.length + 1;
  }
  // A frame even when nothing was missed: the client learns the stream's head from it.
  flush(true);
  return replay.read.entries.length;
};

const textOf = (entry: LogEntry): string => decoder.decode(entry.payload);
