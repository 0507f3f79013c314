// One SQS message per shard of a spilled toAll (or per spilled toRoom): what the fan-out worker
// needs to deliver that shard with the same engine, from where the sender stopped. JSON, small
// keys; the payload as text when it is valid UTF-8 (JSON messages always are), else base64.
import { WsOutboxError } from '../errors.ts';

/** SQS's default MaximumMessageSize (256 KiB), which is also the most a SendMessageBatch may carry. */
export const maxMessageBytes = 262_144;

export interface FanoutMessage {
  v: 1;
  /** One per spilled entry: the sender's request id and the entry's index, for the logs. */
  id: string;
  target: 'all' | 'room';
  room?: string;
  /** The shard of the connection index (target all). */
  shard?: number;
  /** K at the sender, so a worker configured otherwise can say so. */
  shards?: number;
  /** Where to start reading (a page's cursor); from the start when absent. */
  cursor?: string;
  /** Nothing is left to read: only `ids` are to be sent (a continuation's retries). */
  done?: true;
  /** Connections to send to before reading on: what a previous worker could not deliver yet. */
  ids?: string[];
  /** Connections that must not get it (the sender's except, and whoever the sender itself sends it to). */
  except?: string[];
  payload: string;
  encoding: 'utf8' | 'base64';
  /** The @connections endpoint of the API the message was sent from. */
  endpoint: string;
  /** How many continuations came before this one (0 for the sender's own message). */
  hop: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// SQS accepts only XML characters: JSON.stringify escapes control characters, but not these two.
const refusedBySqs = /[\uFFFE\uFFFF]/;

export const encodePayload = (payload: Uint8Array): Pick<FanoutMessage, 'payload' | 'encoding'> => {
  try {
    const text = strictUtf8.decode(payload);
    if (!refusedBySqs.test(text)) return { payload: text, encoding: 'utf8' };
  } catch {
    // not UTF-8: bytes
  }
  return { payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'), encoding: 'base64' };
};

export const decodePayload = (message: Pick<FanoutMessage, 'payload' | 'encoding'>): Uint8Array =>
  message.encoding === 'base64' ? new Uint8Array(Buffer.from(message.payload, 'base64')) : new TextEncoder().encode(message.payload);

export const bodyOf = (message: FanoutMessage): string => JSON.stringify(message);

export const bytesOf = (body: string): number => Buffer.byteLength(body);

/** A message the worker cannot use: it goes back to the queue, and so to the dead-letter queue. */
export class BadFanoutMessage extends WsOutboxError {
  constructor(why: string) {
    super('BAD_FANOUT_MESSAGE', `not a ws-outbox fan-out message: ${why}`);
  }
}

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '');

/** Parses and checks an SQS body; throws BadFanoutMessage saying what is wrong. */
export const parseFanoutMessage = (body: string): FanoutMessage => {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new BadFanoutMessage('the body is not JSON');
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new BadFanoutMessage('the body is not a JSON object');
  if (m.v !== 1) throw new BadFanoutMessage(`unknown version ${JSON.stringify(m.v)}`);
  if (typeof m.id !== 'string') throw new BadFanoutMessage('no id');
  if (m.target === 'all') {
    if (!Number.isInteger(m.shard) || (m.shard as number) < 0) throw new BadFanoutMessage('target all needs a shard (an integer >= 0)');
  } else if (m.target === 'room') {
    if (typeof m.room !== 'string' || m.room === '') throw new BadFanoutMessage('target room needs a room');
  } else {
    throw new BadFanoutMessage(`unknown target ${JSON.stringify(m.target)}`);
  }
  if (m.cursor !== undefined && (typeof m.cursor !== 'string' || m.cursor === '')) throw new BadFanoutMessage('cursor must be a non-empty string');
  if (m.done !== undefined && (m.done !== true || m.cursor !== undefined)) throw new BadFanoutMessage('done is true, and comes without a cursor');
  if (m.ids !== undefined && !isStrings(m.ids)) throw new BadFanoutMessage('ids must be connection ids');
  if (m.except !== undefined && !isStrings(m.except)) throw new BadFanoutMessage('except must be connection ids');
  if (typeof m.payload !== 'string' || (m.encoding !== 'utf8' && m.encoding !== 'base64'))
    throw new BadFanoutMessage('payload must be a string, encoding utf8 or base64');
  if (typeof m.endpoint !== 'string' || !/^https?:\/\//.test(m.endpoint)) throw new BadFanoutMessage('endpoint must be an http(s) URL');
  if (!Number.isInteger(m.hop) || (m.hop as number) < 0) throw new BadFanoutMessage('hop must be an integer >= 0');
  return m as unknown as FanoutMessage;
};
