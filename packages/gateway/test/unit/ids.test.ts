// Connection and request ids keep AWS's alphabet: apps write them unescaped into form bodies and
// paths on AWS, where a `+` or `/` never occurs. One `+` once turned into a space in a request
// template's SQS body here, and the reader's PostToConnection got 410.
import { expect, test } from '@jest/globals';
import { newConnectionId, newRequestId } from '../../src/ids.ts';

test.each([
  ['connection', newConnectionId],
  ['request', newRequestId],
])('%s ids are 11 random bytes in base64url with its `=` pad, never `+` or `/`', (_kind, next) => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = next();
    expect(id).toMatch(/^[A-Za-z0-9_-]{15}=$/);
    ids.add(id);
  }
  // 5,000 draws of 88 random bits never collide; a repeat means the ids are not random.
  expect(ids.size).toBe(5000);
  // Both URL-safe characters turn up in 5,000 ids, as on AWS (`ZDb-VclrIAMCJ3w=`).
  const all = [...ids].join('');
  expect(all).toContain('-');
  expect(all).toContain('_');
});
