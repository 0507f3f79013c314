// The fan-out message (what a spilled shard carries), continuations, SQS batch packing, and the
// event source mapping's rules for partial batch responses.
import { describe, expect, it } from '@jest/globals';
import { continuationsOf } from '../../../src/fanout/continuation.ts';
import { bodyOf, bytesOf, decodePayload, encodePayload, maxMessageBytes, parseFanoutMessage, type FanoutMessage } from '../../../src/fanout/message.ts';
import { batchesOf } from '../../../src/fanout/queue.ts';
import { failedRecords } from '../../../packages/gateway/src/event-sources.ts';

const base: FanoutMessage = {
  v: 1,
  id: 'req-1/0',
  target: 'all',
  shard: 3,
  shards: 16,
  payload: '{"type":"message"}',
  encoding: 'utf8',
  endpoint: 'https://abc.execute-api.us-east-1.amazonaws.com/dev',
  hop: 0,
};

describe('payloads', () => {
  it('travel as text when they are UTF-8 (JSON always is), as base64 otherwise, and come back byte for byte', () => {
    const text = new TextEncoder().encode('{"text":"héllo 👋"}');
    expect(encodePayload(text)).toEqual({ payload: '{"text":"héllo 👋"}', encoding: 'utf8' });
    const bytes = new Uint8Array([0, 255, 254, 1, 0xc3]); // not UTF-8
    const encoded = encodePayload(bytes);
    expect(encoded.encoding).toBe('base64');
    expect(decodePayload(encoded)).toEqual(bytes);
    expect(decodePayload(encodePayload(text))).toEqual(text);
    // U+FFFE is valid UTF-8 but not a character SQS accepts: base64.
    expect(encodePayload(new TextEncoder().encode('a\uFFFEb')).encoding).toBe('base64');
    // Control characters are escaped by JSON, so a text payload is always a valid SQS body.
    expect(bodyOf({ ...base, ...encodePayload(new TextEncoder().encode('a\u0000b')) })).toContain('a\\u0000b');
  });
});

describe('parseFanoutMessage', () => {
  it('accepts what the sender writes', () => {
    expect(parseFanoutMessage(bodyOf(base))).toEqual(base);
    expect(parseFanoutMessage(bodyOf({ ...base, target: 'room', room: 'lobby', shard: undefined, cursor: 'abc=', except: ['x'], ids: ['y'] })).room).toBe(
      'lobby',
    );
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['not an object', '[1]', /not a JSON object/],
    ['another version', bodyOf({ ...base, v: 2 as never }), /unknown version 2/],
    ['no shard for all', bodyOf({ ...base, shard: undefined }), /needs a shard/],
    ['a negative shard', bodyOf({ ...base, shard: -1 }), /needs a shard/],
    ['no room for room', bodyOf({ ...base, target: 'room' }), /needs a room/],
    ['an unknown target', bodyOf({ ...base, target: 'everyone' as never }), /unknown target/],
    ['an empty cursor', bodyOf({ ...base, cursor: '' }), /cursor/],
    ['done with a cursor', bodyOf({ ...base, done: true, cursor: 'a' }), /done/],
    ['ids that are not strings', JSON.stringify({ ...base, ids: [1] }), /ids/],
    ['a bad encoding', bodyOf({ ...base, encoding: 'hex' as never }), /encoding/],
    ['no endpoint', bodyOf({ ...base, endpoint: 'ftp://x' }), /endpoint/],
  ])('refuses %s, saying why', (_, body, why) => {
    expect(() => parseFanoutMessage(body)).toThrow(why);
  });
});

describe('continuationsOf', () => {
  it('goes on from the new cursor, carrying the retries, one hop further', () => {
    const [next, ...more] = continuationsOf({ ...base, cursor: 'old', ids: ['a'] }, { cursor: 'new', done: false }, ['r1', 'r2']);
    expect(more).toEqual([]);
    expect(next).toEqual({ ...base, cursor: 'new', ids: ['r1', 'r2'], hop: 1 });
  });

  it('carries only the retries once the shard is read to its end, and nothing when nothing is left', () => {
    expect(continuationsOf(base, { cursor: undefined, done: true }, ['r'])).toEqual([{ ...base, done: true, ids: ['r'], hop: 1 }]);
    expect(continuationsOf(base, { cursor: undefined, done: true }, [])).toEqual([]);
    // From the start again (nothing read yet): no cursor, not done.
    expect(continuationsOf(base, { cursor: undefined, done: false }, [])).toEqual([{ ...base, hop: 1 }]);
  });

  it('splits many retries over messages that each fit in SQS', () => {
    const retry = Array.from({ length: 30_000 }, (_, i) => `connection-id-${String(i).padStart(8, '0')}=`);
    const messages = continuationsOf({ ...base, payload: 'x'.repeat(100_000) }, { cursor: 'c', done: false }, retry);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(bytesOf(bodyOf(m))).toBeLessThanOrEqual(maxMessageBytes);
    expect(messages.flatMap((m) => m.ids ?? [])).toEqual(retry);
    expect(messages[0]!.cursor).toBe('c');
    expect(messages.slice(1).every((m) => m.done === true && m.cursor === undefined)).toBe(true);
  });
});

describe('batchesOf (SendMessageBatch: 10 messages, 256 KiB)', () => {
  it('packs at most 10 messages and 256 KiB per batch, in order', () => {
    expect(batchesOf(Array.from({ length: 23 }, () => 'x')).map((b) => b.length)).toEqual([10, 10, 3]);
    const big = 'y'.repeat(100_000);
    expect(batchesOf([big, big, big, 'z'])).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('failedRecords (Lambda partial batch responses)', () => {
  const ids = ['m1', 'm2', 'm3'];
  it('takes nothing, null or an empty list as all done', () => {
    expect(failedRecords(undefined, ids)).toEqual({ failed: [] });
    expect(failedRecords(null, ids)).toEqual({ failed: [] });
    expect(failedRecords({}, ids)).toEqual({ failed: [] });
    expect(failedRecords({ batchItemFailures: null }, ids)).toEqual({ failed: [] });
    expect(failedRecords({ batchItemFailures: [] }, ids)).toEqual({ failed: [] });
  });
  it('keeps the listed records on the queue', () => {
    expect(failedRecords({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, ids)).toEqual({ failed: ['m2'] });
  });
  it('takes a malformed answer as a failure of the whole batch', () => {
    expect(failedRecords({ batchItemFailures: 'm2' }, ids)).toMatchObject({ failed: ids });
    expect(failedRecords({ batchItemFailures: [{ itemIdentifier: '' }] }, ids)).toMatchObject({ failed: ids });
    expect(failedRecords({ batchItemFailures: [{ itemIdentifier: 'nope' }] }, ids)).toMatchObject({ failed: ids, invalid: expect.stringContaining('nope') });
    expect(failedRecords({ batchItemFailures: [{ id: 'm1' }] }, ids)).toMatchObject({ failed: ids });
  });
});
