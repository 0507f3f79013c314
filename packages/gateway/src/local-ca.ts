// A certificate authority made at start-up for one gateway, and a server certificate it signs for
// the AWS host names the function workers reach through the gateway (the app's execute-api host,
// DynamoDB). Only the workers trust it (NODE_EXTRA_CA_CERTS in their environment): nothing is
// installed anywhere, and the key never leaves this process's memory.
//
// node-forge builds the certificates (Node has no X.509 writer); the RSA keys and signatures come
// from node:crypto, which is some ten times faster than forge's own RSA.
import { generateKeyPair, randomBytes, sign, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface LocalCa {
  /** The CA certificate, PEM: what the workers trust. */
  caPem: string;
  /** The server certificate (PEM) for `hosts`, signed by the CA, and its private key. */
  certPem: string;
  keyPem: string;
  hosts: string[];
}

const generate = promisify(generateKeyPair);
const rsaKeys = () =>
  generate('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

// forge's cert.sign(key, md) feeds the DER of the TBSCertificate to md.update and asks key.sign(md)
// for the signature: hand it a digest that keeps the bytes and a key that signs them with node:crypto.
const signWith = (cert: forge.pki.Certificate, privateKeyPem: string): void => {
  let tbs = '';
  const md = {
    algorithm: 'sha256',
    update: (bytes: string) => {
      tbs += bytes;
    },
  };
  const key = { sign: () => sign('sha256', Buffer.from(tbs, 'binary'), privateKeyPem).toString('binary') };
  cert.sign(key as unknown as forge.pki.rsa.PrivateKey, md as unknown as forge.md.MessageDigest);
};

/**
 * A random 16-byte serial, as hex, that DER encodes as it is: positive (first byte's high bit
 * clear) and minimal (first byte not zero). OpenSSL refuses a certificate whose serial INTEGER is
 * padded (`asn1 encoding routines::illegal padding`). The old serial, `0` + 15 random bytes in hex,
 * became 0x00 + the bytes, and forge strips one leading zero only: when the first random byte was
 * 0x00 too (and the next below 0x80), the certificate was refused and the gateway failed to start
 * (about one start in 256).
 */
export const serialNumber = (bytes: Buffer = randomBytes(16)): string => {
  const serial = Buffer.from(bytes);
  serial[0] = (serial[0]! % 0x7f) + 1; // 0x01 … 0x7f
  return serial.toString('hex');
};

const certificate = (publicKeyPem: string, subject: string, issuer: string, days: number): forge.pki.Certificate => {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + days * 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer }]);
  return cert;
};

/** A fresh CA and a server certificate for `hosts` (wildcards such as `*.execute-api.us-east-1.amazonaws.com` allowed). */
export const createLocalCa = async (hosts: string[]): Promise<LocalCa> => {
  const [ca, server] = await Promise.all([rsaKeys(), rsaKeys()]);
  const caName = `ws-outbox local gateway CA ${randomBytes(4).toString('hex')}`;
  const caCert = certificate(ca.publicKey, caName, caName, 30);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  signWith(caCert, ca.privateKey);
  const serverCert = certificate(server.publicKey, hosts[0] ?? 'localhost', caName, 30);
  serverCert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2, value })) },
  ]);
  signWith(serverCert, ca.privateKey);
  const caPem = forge.pki.certificateToPem(caCert);
  const certPem = forge.pki.certificateToPem(serverCert);
  // The workers read the CA through NODE_EXTRA_CA_CERTS, and Node only warns when that file does
  // not parse: every TLS call of every function would then fail. Parse both here instead, so a
  // certificate OpenSSL refuses stops the start-up, with this message.
  for (const [what, pem] of [
    ['CA', caPem],
    ['server', certPem],
  ] as const) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new Error(`the local gateway made a ${what} certificate that OpenSSL refuses (${(error as Error).message}); please report it`);
    }
  }
  return { caPem, certPem, keyPem: server.privateKey, hosts };
};
