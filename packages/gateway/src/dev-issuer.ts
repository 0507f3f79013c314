// A development OIDC issuer, served by the local gateway on its own origin, for templates that ask
// for it (Metadata.WsOutboxLocal.DevIssuer, see template-auth.ts):
//
//   GET /.well-known/openid-configuration   issuer and jwks_uri, as any OIDC issuer publishes them
//   GET /.well-known/jwks.json              the public key (RS256) its tokens are signed with
//   GET /dev/token?name=alice               a short-lived JWT for alice: {"token":"eyJ…", …}
//        &scope=chat:broadcast                 optional: a space-separated scope claim
//        &sub=…                                optional: the user id (default: "dev-<name>")
//        &ttl=60                               optional: seconds until it expires (1–3600, default 600)
//        &aud=…                                optional: another audience (to see the authorizer refuse it)
//
// It signs with a key pair made at start (jose), so tokens die with the gateway. Nothing here is
// trusted by itself: an authorizer accepts these tokens only when its issuer setting names this URL.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface DevIssuerOptions {
  /** The issuer URL (`iss`), the gateway's origin: http://127.0.0.1:<port>. */
  url: string;
  /** The default `aud`. */
  audience: string;
  ttlSeconds?: number;
}

export interface MintOptions {
  name: string;
  sub?: string;
  scope?: string;
  ttlSeconds?: number;
  audience?: string;
}

export interface DevIssuer {
  url: string;
  audience: string;
  jwks(): { keys: JWK[] };
  /** A signed token, as /dev/token returns it. */
  mint(options: MintOptions): Promise<string>;
  /** True for the paths this issuer serves. */
  serves(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export const devTokenPath = '/dev/token';
export const jwksPath = '/.well-known/jwks.json';
const configurationPath = '/.well-known/openid-configuration';
const maxTtlSeconds = 3600;

class BadRequest extends Error {}

const send = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
};

const ttlFrom = (raw: string | null, fallback: number): number => {
  if (raw === null) return fallback;
  const ttl = Number(raw);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtlSeconds) throw new BadRequest(`ttl must be a whole number of seconds from 1 to ${maxTtlSeconds}`);
  return ttl;
};

export const createDevIssuer = async (options: DevIssuerOptions): Promise<DevIssuer> => {
  const { url, audience } = options;
  const defaultTtl = options.ttlSeconds ?? 600;
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };

  const mint = async (claims: MintOptions): Promise<string> => {
    const ttl = claims.ttlSeconds ?? defaultTtl;
    const payload: Record<string, unknown> = { name: claims.name, preferred_username: claims.name };
    if (claims.scope) payload.scope = claims.scope;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(url)
      .setAudience(claims.audience ?? audience)
      .setSubject(claims.sub ?? `dev-${claims.name}`)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .setJti(randomUUID())
      .sign(privateKey as CryptoKey);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requested = new URL(req.url ?? '/', url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (requested.pathname === jwksPath) return send(res, 200, { keys: [publicJwk] });
    if (requested.pathname === configurationPath) {
      return send(res, 200, {
        issuer: url,
        jwks_uri: `${url}${jwksPath}`,
        token_endpoint: `${url}${devTokenPath}`,
        id_token_signing_alg_values_supported: ['RS256'],
        subject_types_supported: ['public'],
        response_types_supported: ['id_token'],
      });
    }
    const q = requested.searchParams;
    try {
      const name = q.get('name');
      if (!name) throw new BadRequest('name is required: /dev/token?name=alice');
      if (name.length > 256) throw new BadRequest('name is longer than 256 characters');
      const ttl = ttlFrom(q.get('ttl'), defaultTtl);
      const claims: MintOptions = {
        name,
        ttlSeconds: ttl,
        sub: q.get('sub') || undefined,
        scope: q.get('scope') || undefined,
        audience: q.get('aud') || undefined,
      };
      const token = await mint(claims);
      send(res, 200, {
        token,
        tokenType: 'Bearer',
        expiresIn: ttl,
        issuer: url,
        audience: claims.audience ?? audience,
        sub: claims.sub ?? `dev-${name}`,
        name,
      });
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      send(res, 400, { message: error.message });
    }
  };

  return {
    url,
    audience,
    jwks: () => ({ keys: [publicJwk] }),
    mint,
    serves: (path) => path === jwksPath || path === configurationPath || path === devTokenPath,
    handle,
  };
};
