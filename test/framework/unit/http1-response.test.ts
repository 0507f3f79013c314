// The hand-written response parser behind the signed transport: every framing the
// @connections API (or a proxy in front of it) may use, cut into arbitrary TCP segments, and a
// clear error for everything malformed.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { HttpParseError, ResponseParser, type Http1Response } from '../../../src/management/http1-response.ts';

/** Feeds `raw` cut at `cuts`; returns the response and the parser, or throws what the parser threw. */
const parse = (raw: string | Buffer, cuts: number[] = [], close = false) => {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1');
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const parser = new ResponseParser();
  let response: Http1Response | undefined;
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const got = parser.push(bytes.subarray(from, to));
    if (got) {
      expect(response).toBeUndefined();
      response = got;
    }
    from = to;
  }
  if (close && !response) response = parser.end();
  return { response, parser };
};

const gone = 'HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nx-amzn-ErrorType: GoneException\r\nContent-Length: 16\r\n\r\n{"message":null}';
const chunked =
  'HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nx-amzn-errortype: LimitExceededException\r\n\r\n' +
  '7;ext=1\r\n{"messa\r\n13\r\nge":"Rate exceeded"\r\n1\r\n}\r\n0\r\nx-trailer: ignored\r\n\r\n';

describe('framings', () => {
  it('reads a Content-Length body, cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(gone.length), { maxLength: 8 }), (cuts) => {
        const { response, parser } = parse(gone, cuts);
        expect(response).toEqual({
          status: 410,
          keepAlive: true,
          body: Buffer.from('{"message":null}'),
          headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException', 'content-length': '16' },
        });
        expect(parser.leftover).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('reads a chunked body with extensions and trailers, cut anywhere', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(chunked.length), { maxLength: 10 }), (cuts) => {
        const { response } = parse(chunked, cuts);
        expect(response?.status).toBe(429);
        expect(response?.body.toString()).toBe('{"message":"Rate exceeded"}');
        expect(response?.keepAlive).toBe(true);
        expect(response?.headers['x-trailer']).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('reads random bodies in random chunkings identically', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(4000), { maxLength: 6 }),
        (body, sizes, cuts) => {
          let encoded = '';
          let at = 0;
          for (let i = 0; at < body.length; i++) {
            const size = sizes[i % sizes.length] as number;
            const part = Buffer.from(body.subarray(at, at + size));
            encoded += `${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`;
            at += size;
          }
          const raw = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${encoded}0\r\n\r\n`;
          const { response } = parse(raw, cuts);
          expect(response?.body.equals(Buffer.from(body))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a 200 with Content-Length: 0 (what PostToConnection answers) completes at the head', () => {
    const { response } = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
    expect(response).toMatchObject({ status: 200, keepAlive: true });
    expect(response?.body.length).toBe(0);
  });

  it('204 and 304 have no body even with a length', () => {
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n').response?.status).toBe(204);
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').response?.body.length).toBe(0);
  });

  it('skips 1xx responses', () => {
    const { response } = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nx: y\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    expect(response?.status).toBe(200);
    expect(response?.headers).toEqual({ 'content-length': '2' });
    expect(response?.body.toString()).toBe('ok');
  });

  it('without a length, the body runs until the peer closes, and the socket is not reused', () => {
    const { response } = parse('HTTP/1.1 502 Bad Gateway\r\n\r\nupstream died', [20, 30], true);
    expect(response).toMatchObject({ status: 502, keepAlive: false });
    expect(response?.body.toString()).toBe('upstream died');
  });

  it('a response fed one byte at a time parses the same (bytes gathered, not re-copied per byte)', () => {
    const body = Buffer.alloc(64 * 1024, 'b');
    const raw = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nx-long: ${'h'.repeat(8000)}\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const parser = new ResponseParser();
    let response: Http1Response | undefined;
    for (let i = 0; i < raw.length; i++) response = parser.push(raw.subarray(i, i + 1)) ?? response;
    expect(response?.headers['x-long']).toHaveLength(8000);
    expect(response?.body.equals(body)).toBe(true);
  });

  it('header names that are Object.prototype keys are plain headers', () => {
    const { response } = parse('HTTP/1.1 200 OK\r\nconstructor: a\r\n__proto__: b\r\nContent-Length: 0\r\n\r\n');
    expect(response?.headers.constructor).toBe('a');
    expect(Object.keys(response?.headers ?? {})).toEqual(['constructor', '__proto__', 'content-length']);
  });

  it('joins repeated headers and lower-cases names', () => {
    const { response } = parse('HTTP/1.1 200 OK\r\nVia: a\r\nVIA: b\r\nContent-Length: 0\r\n\r\n');
    expect(response?.headers.via).toBe('a, b');
  });
});

describe('keep-alive', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', true],
    ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n', true],
    // Both framings: Transfer-Encoding wins and the connection must close (RFC 9112 6.1).
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', false],
    // Transfer-Encoding in HTTP/1.0 is faulty (RFC 9112 6.1): read, then close.
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', false],
  ])('%j -> %s', (raw, keepAlive) => {
    expect(parse(raw).response?.keepAlive).toBe(keepAlive);
  });

  it('counts bytes after the response (the client then drops the socket)', () => {
    const { parser } = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200');
    expect(parser.leftover).toBe(12);
  });
});

describe('malformed input is a clear error', () => {
  it.each([
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n', /bad status line "HTTP\/2 200 OK"/],
    ['not HTTP at all', 'SSH-2.0-OpenSSH\r\n\r\n', /bad status line/],
    ['a folded header', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', /bad header line/],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nnonsense\r\n\r\n', /bad header line/],
    ['a non-numeric length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', /bad content-length "1x"/],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', /bad content-length "1, 2"/],
    ['a huge length', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n', /exceeds 1048576/],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size "zz"/],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX', /chunk not followed by CRLF/],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', /unexpected 101/],
    ['a status below 100', 'HTTP/1.1 099 Odd\r\n\r\n', /bad status line/],
    ['a status above 599', 'HTTP/1.1 600 Odd\r\n\r\n', /bad status line/],
    ['a bare LF inside a header value', 'HTTP/1.1 200 OK\r\nX: a\nContent-Length: 5\r\n\r\n', /bad header line/],
    ['a NUL inside a header value', 'HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n', /bad header line/],
    ['a chunk size with a leading space', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 1\r\n', /bad chunk size/],
    ['a bad trailer line', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n', /bad header line "not a field"/],
  ])('%s', (_label, raw, message) => {
    expect(() => parse(raw)).toThrow(HttpParseError);
    expect(() => parse(raw)).toThrow(message);
  });

  it('a head over 16 KiB is refused before the blank line arrives', () => {
    const parser = new ResponseParser();
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\n'));
    expect(() => {
      for (let i = 0; i < 200; i++) parser.push(Buffer.from(`x-filler-${i}: ${'a'.repeat(100)}\r\n`));
    }).toThrow(/head exceeds 16384 bytes/);
  });

  it('trailers over 16 KiB in all are refused, however they are split into lines', () => {
    const parser = new ResponseParser();
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'));
    expect(() => {
      for (let i = 0; i < 200; i++) parser.push(Buffer.from(`x-t${i}: ${'a'.repeat(100)}\r\n`));
    }).toThrow(/trailers exceed 16384 bytes/);
  });

  it('chunk extensions after whitespace are allowed', () => {
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a=b\r\nok\r\n0\r\n\r\n').response?.body.toString()).toBe('ok');
  });

  it('errors carry a code, as llhttp errors do', () => {
    try {
      parse('garbage\r\n\r\n');
    } catch (error) {
      expect((error as { code: string }).code).toBe('HPE_INVALID_RESPONSE');
      return;
    }
    throw new Error('no error');
  });

  it.each([
    ['in the head', 'HTTP/1.1 200 OK\r\nContent-Le'],
    ['in a Content-Length body', 'HTTP/1.1 410 Gone\r\nContent-Length: 16\r\n\r\n{"mess'],
    ['in a chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'],
  ])('a close %s is ECONNRESET (socket hang up), as node:http reports it', (_label, raw) => {
    const { parser } = parse(raw);
    expect(() => parser.end()).toThrow(expect.objectContaining({ code: 'ECONNRESET', message: 'socket hang up' }));
  });
});
