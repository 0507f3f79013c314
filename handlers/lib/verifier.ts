// The JWT verifier the authorizer uses, configured from its environment (template parameters):
//
//   ISSUER_URL + AUDIENCE (+ JWKS_URI)      any OIDC issuer: its `iss`, the `aud` your app client
//                                           gets, and where its keys are (default
//                                           <ISSUER_URL>/.well-known/jwks.json)
//   USER_POOL_ID + USER_POOL_CLIENT_ID      a Cognito user pool and app client (ID tokens)
//
// aws-jwt-verify does the verification (signature, alg, kid, iss, aud, exp, nbf) and caches the
// JWKS across warm invocations, fetching it again only for a kid it has not seen (key rotation).
import { CognitoJwtVerifier, JwtRsaVerifier } from 'aws-jwt-verify';
import { assertStringEquals } from 'aws-jwt-verify/assert';
import { JwtInvalidIssuerError, NonRetryableFetchError } from 'aws-jwt-verify/error';
import { SimpleFetcher, type Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { decomposeUnverifiedJwt } from 'aws-jwt-verify/jwt';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';

export interface Verifier {
  verify(token: string): Promise<JwtPayload>;
  /** Fetches the issuer's keys now (aws-jwt-verify's hydrate), so that the first verify need not. */
  hydrate(): Promise<void>;
  /** What it trusts, for the log. */
  describe: string;
}

/**
 * aws-jwt-verify fetches the configured issuer's keys before it compares `iss`; a token from
 * another issuer is refused here first, so it costs no key fetch (and no request to anyone).
 */
const sameIssuerFirst = (issuer: string, verify: (token: string) => Promise<JwtPayload>) => async (token: string): Promise<JwtPayload> => {
  assertStringEquals('Issuer', decomposeUnverifiedJwt(token).payload.iss, issuer, JwtInvalidIssuerError);
  return verify(token);
};

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * aws-jwt-verify fetches keys over https only. The local gateway's development issuer is plain
 * http on loopback, so http is allowed there and nowhere else; in Lambda nothing listens on
 * loopback, and the template admits only https issuers anyway.
 */
export class KeysFetcher implements Fetcher {
  readonly #https = new SimpleFetcher();

  async fetch(uri: string, requestOptions?: Record<string, unknown>, data?: ArrayBuffer): Promise<ArrayBuffer> {
    const url = new URL(uri);
    if (url.protocol === 'https:') return this.#https.fetch(uri, requestOptions, data);
    if (url.protocol !== 'http:' || !loopbackHosts.has(url.hostname)) {
      throw new NonRetryableFetchError(uri, 'keys are fetched over https only (or http on loopback, for the local gateway)');
    }
    const response = await fetch(uri, { signal: AbortSignal.timeout(3000) });
    if (response.status !== 200) throw new NonRetryableFetchError(uri, `Status code is ${response.status}, expected 200`);
    return response.arrayBuffer();
  }
}

/** Thrown at init for a configuration that trusts nobody: every connection then gets a 500, and the log says why. */
export class AuthConfigError extends Error {
  override name = 'AuthConfigError';
}

export const verifierFromEnv = (env: NodeJS.ProcessEnv = process.env): Verifier => {
  const jwksCache = new SimpleJwksCache({ fetcher: new KeysFetcher() });
  const issuer = env.ISSUER_URL?.replace(/\/+$/, '');
  if (issuer) {
    const audience = env.AUDIENCE;
    if (!audience) throw new AuthConfigError('ISSUER_URL is set but AUDIENCE is empty: set the Audience parameter to the app client id your issuer puts in "aud"');
    const jwksUri = env.JWKS_URI || `${issuer}/.well-known/jwks.json`;
    const verifier = JwtRsaVerifier.create({ issuer, audience, jwksUri }, { jwksCache });
    return { verify: sameIssuerFirst(issuer, (token) => verifier.verify(token)), hydrate: () => verifier.hydrate(), describe: `OIDC issuer ${issuer} (audience ${audience}, keys ${jwksUri})` };
  }
  const userPoolId = env.USER_POOL_ID;
  const clientId = env.USER_POOL_CLIENT_ID;
  if (userPoolId && clientId) {
    const verifier = CognitoJwtVerifier.create({ userPoolId, clientId, tokenUse: 'id' }, { jwksCache });
    const { issuer: poolIssuer } = CognitoJwtVerifier.parseUserPoolId(userPoolId);
    return { verify: sameIssuerFirst(poolIssuer, (token) => verifier.verify(token)), hydrate: () => verifier.hydrate(), describe: `Cognito user pool ${userPoolId} (app client ${clientId}, ID tokens)` };
  }
  throw new AuthConfigError('no issuer to trust: set IssuerUrl and Audience, or UserPoolId and UserPoolClientId, or CreateUserPool=true');
};
