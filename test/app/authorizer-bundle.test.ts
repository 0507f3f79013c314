// The authorizer's bundle (dist/authorize/index.mjs, as `npm run build` makes it and Lambda runs
// it) against a JWKS served on loopback, with keys made here: RS256, a key rotation, a kid the
// issuer never published, and the claims it checks. It runs as a warm Lambda instance (the local
// gateway's function pool), so its JWKS cache carries across invocations as it does on Lambda.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { build } from '../../build.mjs';
import { loadAppModel } from '../../packages/gateway/src/app-model.ts';
import { FunctionPool, type InvokeOutcome } from '../../packages/gateway/src/function-pool.ts';
import { InvocationLedger } from '../../packages/gateway/src/invocations.ts';
import { createLogger } from '../../packages/gateway/src/log.ts';
import { startWorkerGuard, type WorkerGuard } from '../../packages/gateway/src/worker-guard.ts';
import { runNode, templatePath, tempDir } from '../helpers/node.ts';

const audience = 'chat-app';
let server: Server;
let issuer: string;
let jwks: { keys: JWK[] } = { keys: [] };
let jwksRequests = 0;
let bundle: string;
let guard: WorkerGuard;
const pools: FunctionPool[] = [];
const log = createLogger({ quiet: true });
const fn = loadAppModel(templatePath).functions.get('AuthorizerFunction')!;

const key = async (kid: string) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  return { kid, privateKey: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
};

const token = (
  signer: { kid: string; privateKey: CryptoKey },
  claims: Record<string, unknown> = {},
  options: { aud?: string; iss?: string; exp?: string | number } = {},
) =>
  new SignJWT({ name: 'alice', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: signer.kid })
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? audience)
    .setSubject('user-123')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '5m')
    .sign(signer.privateKey);

const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/$connect';
const event = (jwt: string | undefined) => ({
  type: 'REQUEST',
  methodArn,
  headers: {},
  multiValueHeaders: {},
  ...(jwt === undefined ? {} : { queryStringParameters: { token: jwt } }),
  requestContext: { routeKey: '$connect', eventType: 'CONNECT', connectionId: 'Xb1CdcwFoAMCJdw=', apiId: 'a1b2c3d4e5', stage: 'dev' },
});

/** A warm instance of the bundle with this environment (the template's, with the issuer set). */
const instance = (environment: Record<string, string>) => {
  const pool = new FunctionPool({
    fn: { ...fn, environment: { ...fn.environment, ...environment } },
    codeFile: bundle,
    log,
    guard,
    ledger: new InvocationLedger(),
    maxInstances: 1,
    env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' },
  });
  pools.push(pool);
  return (jwt: string | undefined) => pool.invoke(event(jwt));
};

const allowed = (outcome: InvokeOutcome) => {
  expect(outcome.status).toBe('ok');
  return (outcome as { result: any }).result;
};
const refused = (outcome: InvokeOutcome) => {
  expect(outcome).toMatchObject({ status: 'error', error: { errorMessage: 'Unauthorized' } });
};

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [built] = await build({ functions: ['AuthorizerFunction'], outdir: join(tempDir('authorizer'), 'dist') });
  bundle = built!.outfile;
  guard = startWorkerGuard({ log });
}, 60_000);

afterAll(async () => {
  await Promise.all(pools.map((p) => p.stop()));
  await guard?.stop();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the authorizer bundle against a loopback JWKS', () => {
  it('verifies RS256, caches the keys, follows a rotation, and refuses an unknown kid', async () => {
    const [k1, k2] = [await key('key-1'), await key('key-2')];
    jwks = { keys: [k1.jwk] };
    const authorize = instance({ ISSUER_URL: issuer, AUDIENCE: audience });

    const first = allowed(await authorize(await token(k1)));
    expect(first).toEqual({
      principalId: 'user-123',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }] },
      context: { name: 'alice', broadcast: false },
    });
    expect(jwksRequests).toBe(1);
    allowed(await authorize(await token(k1, { name: 'bob' })));
    expect(jwksRequests).toBe(1); // cached across warm invocations

    // The issuer rotates: a token signed with the new key makes the bundle fetch the keys again.
    jwks = { keys: [k1.jwk, k2.jwk] };
    expect(allowed(await authorize(await token(k2))).principalId).toBe('user-123');
    expect(jwksRequests).toBe(2);

    // A kid the issuer never published, signed by a key it does know: refused.
    refused(await authorize(await token({ kid: 'nobody-knows', privateKey: k1.privateKey })));
  });

  it('refuses what must not pass, each with "Unauthorized" (401)', async () => {
    const k = await key('key-claims');
    jwks = { keys: [k.jwk] };
    const authorize = instance({ ISSUER_URL: issuer, AUDIENCE: audience });
    refused(await authorize(undefined));
    refused(await authorize(await token(k, {}, { aud: 'another-app' })));
    refused(await authorize(await token(k, {}, { iss: 'http://127.0.0.1:1' })));
    refused(await authorize(await token(k, {}, { exp: Math.floor(Date.now() / 1000) - 10 })));
    const good = await token(k);
    refused(await authorize(`${good.slice(0, -6)}${good.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`));
    // An HS256 token "signed" with the public key's text (algorithm confusion) is not RS256.
    const { createSecretKey } = await import('node:crypto');
    const hs = await new SignJWT({ name: 'alice' })
      .setProtectedHeader({ alg: 'HS256', kid: k.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('user-123')
      .setExpirationTime('5m')
      .sign(createSecretKey(Buffer.from(JSON.stringify(k.jwk))));
    refused(await authorize(hs));
  });

  it('denies (403) a valid token without a name the chat can show; passes the broadcast claim', async () => {
    const k = await key('key-names');
    jwks = { keys: [k.jwk] };
    const authorize = instance({ ISSUER_URL: issuer, AUDIENCE: audience });
    const denied = allowed(await authorize(await token(k, { name: 'Alice Smith', preferred_username: '<b>' })));
    expect(denied.policyDocument.Statement[0].Effect).toBe('Deny');
    // The first safe one of name, preferred_username, cognito:username.
    expect(allowed(await authorize(await token(k, { name: 'Alice Smith', preferred_username: 'alice.s' }))).context.name).toBe('alice.s');
    expect(allowed(await authorize(await token(k, { scope: 'openid chat:broadcast' }))).context).toEqual({ name: 'alice', broadcast: true });
    expect(allowed(await authorize(await token(k, { 'cognito:groups': ['chat:broadcast'] }))).context.broadcast).toBe(true);
  });

  it('fetches the keys while it loads (init, at full CPU), and loads all the same when the issuer is down', async () => {
    jwks = { keys: [(await key('key-init')).jwk] };
    const before = jwksRequests;
    const load = (issuerUrl: string) =>
      runNode(['--input-type=module', '-e', 'await import(process.argv[1]); console.log("loaded")', bundle], {
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ISSUER_URL: issuerUrl, AUDIENCE: audience },
        timeoutMs: 20_000,
      });
    const up = await load(issuer);
    expect({ stdout: up.stdout.trim(), code: up.code }).toEqual({ stdout: 'loaded', code: 0 });
    expect(jwksRequests).toBe(before + 1); // before any invocation
    const started = Date.now();
    const down = await load('http://127.0.0.1:1');
    expect({ stdout: down.stdout.trim(), code: down.code }).toEqual({ stdout: 'loaded', code: 0 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('with no issuer configured, fails every invocation with the reason (API Gateway then answers 500)', async () => {
    const outcome = await instance({ ISSUER_URL: '', AUDIENCE: '', USER_POOL_ID: '', USER_POOL_CLIENT_ID: '' })(undefined);
    expect(outcome.status).toBe('error');
    expect((outcome as { error: { errorMessage: string } }).error.errorMessage).toMatch(/no issuer to trust/);
  });
});
