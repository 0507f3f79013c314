// The example app's auth and abuse limits on the local gateway running the shipped template.yaml:
// real `ws` clients, tokens from the gateway's development issuer (or made here with jose), the
// real authorizer bundle (aws-jwt-verify) and the real handlers with their real limits.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { maxUserIdLength as storeMaxUserIdLength } from 'ws-outbox/store';
import { maxUserIdLength } from '../../handlers/lib/claims.ts';
import { startGateway, type Gateway } from '../../packages/gateway/src/gateway.ts';
import { devToken, openAs, sleep, TestClient } from '../../packages/gateway/test/gateway/support.ts';

const quiet = process.env.GATEWAY_LOG === undefined;
const outdir = mkdtempSync(join(tmpdir(), 'gw-app-auth-'));
let gateway: Gateway;
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ template: 'template.yaml', port: 0, dynamodbPort: 0, quiet, outdir });
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await gateway?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

const refusal = (gw: Gateway, token: string | undefined) =>
  TestClient.open(token === undefined ? gw.wsUrl : `${gw.wsUrl}?token=${encodeURIComponent(token)}`).then(
    (client) => {
      client.close();
      throw new Error('the upgrade was accepted');
    },
    (error: { status?: number }) => error.status,
  );

const open = async (name: string, extra: Record<string, string> = {}) => {
  const client = await openAs(gateway.wsUrl, name, extra);
  clients.push(client);
  return client;
};

/** Joins a room and returns the connection id the `joined` echo names. */
const join_ = async (client: TestClient, room: string): Promise<string> => {
  client.send({ action: 'join', room });
  const [joined] = await client.waitFor((d) => d?.type === 'joined' && d.room === room);
  return joined.connectionId;
};

describe('connecting', () => {
  test('no token → 401', async () => {
    expect(await refusal(gateway, undefined)).toBe(401);
    expect(await refusal(gateway, '')).toBe(401);
  });

  test('a bad signature, an expired token, a wrong audience, an unknown key → 401', async () => {
    const good = await devToken(gateway.wsUrl, 'mallory');
    const [head, body, signature] = good.split('.');
    const flipped = `${head}.${body}.${signature!.slice(0, -4)}${signature!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect(await refusal(gateway, flipped)).toBe(401);
    // Claims changed after signing: the signature no longer matches.
    const forged = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), name: 'admin' })).toString('base64url')}.${signature}`;
    expect(await refusal(gateway, forged)).toBe(401);
    expect(await refusal(gateway, await devToken(gateway.wsUrl, 'mallory', { aud: 'another-app' }))).toBe(401);
    // Same issuer name, a key the issuer never published (a kid it does not know).
    const { privateKey } = await generateKeyPair('RS256');
    const stranger = await new SignJWT({ name: 'mallory' })
      .setProtectedHeader({ alg: 'RS256', kid: 'not-theirs' })
      .setIssuer(gateway.devIssuer!.url)
      .setAudience(gateway.devIssuer!.audience)
      .setSubject('dev-mallory')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await refusal(gateway, stranger)).toBe(401);
    expect(await refusal(gateway, 'not-a-jwt')).toBe(401);
    const expiring = await devToken(gateway.wsUrl, 'mallory', { ttl: '1' });
    await sleep(2100);
    expect(await refusal(gateway, expiring)).toBe(401);
  });

  test('a valid token whose name is not one the chat can show → 403 (Deny)', async () => {
    expect(await refusal(gateway, await devToken(gateway.wsUrl, 'bad name<script>'))).toBe(403);
  });

  test('a valid token whose sub is longer than the store keeps (300 characters) → 403 (Deny), not a $connect 500', async () => {
    expect(await refusal(gateway, await devToken(gateway.wsUrl, 'longsub', { sub: 's'.repeat(300) }))).toBe(403);
    // The authorizer's limit is the store's; 256 is still fine.
    expect(maxUserIdLength).toBe(storeMaxUserIdLength);
    const client = await open('longsub', { sub: 's'.repeat(256) });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  test('a valid token → connected', async () => {
    const client = await open('valid');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('the verified identity on every route', () => {
  test('join, send and $disconnect carry the name the token proved, not one the client wrote', async () => {
    const alice = await open('alice');
    const bob = await open('bob');
    const aliceId = await join_(alice, 'identity');
    await join_(bob, 'identity');
    expect(alice.matching((d) => d?.type === 'joined' && d.connectionId === aliceId)[0].name).toBe('alice');
    await bob.waitFor((d) => d?.type === 'joined' && d.name === 'bob');

    // A client cannot say who it is: extra fields are ignored, `from` comes from the authorizer.
    alice.send({ action: 'send', room: 'identity', text: 'hi bob', from: { id: 'x', name: 'bob' }, name: 'bob' });
    const [message] = await bob.waitFor((d) => d?.type === 'message' && d.text === 'hi bob');
    expect(message).toEqual({
      type: 'message',
      id: expect.any(String),
      room: 'identity',
      from: { id: aliceId, name: 'alice' },
      text: 'hi bob',
      seq: expect.any(Number),
    });

    await alice.close();
    const [left] = await bob.waitFor((d) => d?.type === 'left' && d.connectionId === aliceId);
    expect(left).toMatchObject({ room: 'identity', name: 'alice' });
  });
});

describe('abuse limits', () => {
  test('a room send from a non-member is refused; the room hears nothing', async () => {
    const member = await open('member');
    const outsider = await open('outsider');
    await join_(member, 'private');
    outsider.send({ action: 'send', room: 'private', text: 'let me in' });
    const [error] = await outsider.waitFor((d) => d?.type === 'error');
    expect(error.message).toBe('you are not a member of room "private": join it first');
    await sleep(300);
    expect(member.matching((d) => d?.text === 'let me in')).toEqual([]);
  });

  test('a broadcast without the chat:broadcast claim is refused; with it, everyone gets it', async () => {
    const plain = await open('plain');
    const herald = await open('herald', { scope: 'chat:broadcast' });
    const listener = await open('listener');
    plain.send({ action: 'send', text: 'everyone, listen' });
    const [error] = await plain.waitFor((d) => d?.type === 'error');
    expect(error.message).toBe('sending to everyone needs the chat:broadcast permission: send to a room you joined');
    herald.send({ action: 'send', text: 'hear ye' });
    const [heard] = await listener.waitFor((d) => d?.type === 'message' && d.text === 'hear ye');
    expect(heard.from.name).toBe('herald');
    expect(listener.matching((d) => d?.text === 'everyone, listen')).toEqual([]);
  });

  test('a flood is limited ("slow down") while another client in the same room is unaffected', async () => {
    const flooder = await open('flooder');
    const calm = await open('calm');
    await join_(flooder, 'busy');
    await join_(calm, 'busy');
    await sleep(2500); // both buckets full again after the joins
    const started = performance.now();
    for (let i = 0; i < 40; i++) flooder.send({ action: 'send', room: 'busy', text: `flood ${i}` });
    for (let i = 0; i < 3; i++) {
      calm.send({ action: 'send', room: 'busy', text: `calm ${i}` });
      await sleep(300);
    }
    await calm.waitFor((d) => d?.type === 'message' && /^calm /.test(d.text), { count: 3 });
    const delivered = () => calm.matching((d) => d?.type === 'message' && /^flood /.test(d.text)).length;
    const slowDowns = () => flooder.matching((d) => d?.type === 'error' && d.message === 'slow down').length;
    // Every flood message is answered: delivered to the room, or refused with "slow down". How long
    // that takes depends on the functions' CPU (Lambda-sized under the local gateway's limits).
    const deadline = Date.now() + 45_000;
    while (delivered() + slowDowns() < 40 && Date.now() < deadline) await sleep(50);
    const seconds = (performance.now() - started) / 1000;
    expect(delivered() + slowDowns()).toBe(40);
    // Burst 10 plus 5/s over the time the flood took to run through; the rest refused.
    expect(delivered()).toBeGreaterThanOrEqual(10);
    expect(delivered()).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds) + 2);
    expect(slowDowns()).toBeGreaterThan(0);
    expect(calm.matching((d) => d?.type === 'error')).toEqual([]);
  }, 60_000);
});

describe('the development issuer', () => {
  test('serves its keys and short-lived tokens; bad requests get 400', async () => {
    const base = gateway.wsUrl.replace(/^ws/, 'http');
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string; n: string }> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ alg: 'RS256', kty: 'RSA', use: 'sig' });
    const minted = (await (await fetch(`${base}/dev/token?name=alice`)).json()) as Record<string, unknown>;
    expect(minted).toMatchObject({ tokenType: 'Bearer', expiresIn: 600, issuer: gateway.devIssuer!.url, sub: 'dev-alice', name: 'alice' });
    const payload = JSON.parse(Buffer.from(String(minted.token).split('.')[1]!, 'base64url').toString());
    expect(payload.exp - payload.iat).toBe(600);
    expect((await fetch(`${base}/dev/token`)).status).toBe(400);
    expect((await fetch(`${base}/dev/token?name=a&ttl=86400`)).status).toBe(400);
  });

  test('is not trusted when the issuer parameter points elsewhere', async () => {
    // An https issuer on loopback that nothing serves: the authorizer refuses the dev token by its
    // iss before fetching any keys.
    const other = await startGateway({
      template: 'template.yaml',
      port: 0,
      dynamodbPort: 0,
      quiet,
      outdir: join(outdir, 'other'),
      parameters: { IssuerUrl: 'https://127.0.0.1:9/issuer', Audience: 'ws-outbox-local' },
    });
    try {
      expect(await refusal(other, await devToken(other.wsUrl, 'alice'))).toBe(401);
    } finally {
      await other.stop();
    }
  }, 60_000);
});
