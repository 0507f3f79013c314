// The local gateway's certificate authority (packages/gateway/src/local-ca.ts). Its certificates must be ones
// OpenSSL accepts every time: a serial whose DER INTEGER was padded (a 0x00 byte before a byte
// with its high bit clear) made Node refuse about one start in 256 with "illegal padding".
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import forge from 'node-forge';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { createLocalCa, serialNumber } from '../../src/local-ca.ts';

describe('serialNumber', () => {
  it('is 16 bytes whose DER INTEGER is positive and minimal, whatever the random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (random) => {
        const serial = serialNumber(Buffer.from(random));
        // What forge writes into the certificate.
        const bytes = Buffer.from(forge.util.hexToBytes(serial), 'binary');
        expect(bytes).toHaveLength(16);
        expect(bytes[0]).toBeGreaterThanOrEqual(0x01);
        expect(bytes[0]).toBeLessThanOrEqual(0x7f);
        expect(bytes.subarray(1)).toEqual(Buffer.from(random).subarray(1));
      }),
      { numRuns: 2000 },
    );
  });

  it('covers the bytes that broke it (a zero first byte before one below 0x80) and a first byte with its high bit set', () => {
    for (const first of [0x00, 0x15, 0x80, 0xff]) {
      const serial = serialNumber(Buffer.from([first, 0x61, ...new Array(14).fill(0xab)]));
      const leading = Number.parseInt(serial.slice(0, 2), 16);
      expect({ first, length: serial.length, positiveAndMinimal: leading >= 0x01 && leading <= 0x7f }).toEqual({ first, length: 32, positiveAndMinimal: true });
    }
  });
});

describe('createLocalCa', () => {
  it('makes certificates OpenSSL parses, a server certificate the CA signed for the hosts, and a usable TLS context', async () => {
    const hosts = ['abc.execute-api.us-east-1.amazonaws.com', 'dynamodb.us-east-1.amazonaws.com'];
    // Several in a row (the serial property above is what pins the bug; these pin the whole certificate).
    for (let i = 0; i < 12; i++) {
      const ca = await createLocalCa(hosts);
      const caCert = new X509Certificate(ca.caPem);
      const server = new X509Certificate(ca.certPem);
      expect(caCert.ca).toBe(true);
      expect(server.checkIssued(caCert)).toBe(true);
      expect(server.verify(caCert.publicKey)).toBe(true);
      for (const host of hosts) expect(server.checkHost(host)).toBe(host);
      expect(server.serialNumber).toMatch(/^(0[1-9A-F]|[1-7][0-9A-F])[0-9A-F]{30}$/); // 0x01 … 0x7f, then 15 bytes
      expect(() => createSecureContext({ cert: ca.certPem, key: ca.keyPem, ca: ca.caPem })).not.toThrow();
    }
  }, 60_000);
});
