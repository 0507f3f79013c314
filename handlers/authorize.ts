import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { FetchError, JwtBaseError } from 'aws-jwt-verify/error';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { displayNameOf, hasClaim, maxUserIdLength } from './lib/claims.ts';
import { verifierFromEnv, type Verifier } from './lib/verifier.ts';

/**
 * The $connect authorizer (a Lambda REQUEST authorizer; API Gateway runs it before $connect).
 * Browsers cannot set headers on a WebSocket, so the JWT comes in the `token` query string
 * (`wss://…/dev?token=eyJ…`; the template makes it the identity source, so a connection without
 * one is refused with 401 before this runs).
 *
 *   a token that fails verification (signature, kid, issuer, audience, expiry) → throw "Unauthorized" → 401
 *   a valid token without a usable display name, or with a sub over 256 chars → Deny                   → 403
 *   a valid token                                                               → Allow, principalId = sub,
 *                                                                                 context { name, broadcast }
 *
 * Every route of the connection then sees requestContext.authorizer = { principalId, name,
 * broadcast } (handlers/lib/identity.ts). The result stays far below API Gateway's 8 KB cap.
 */

// Made at the first invocation and kept for the warm ones (with its JWKS cache). A configuration
// that trusts nobody throws its reason on every invocation (API Gateway answers 500), and the
// bundle still loads, so the log says what to fix.
let verifier: Verifier | undefined;
const broadcastClaim = process.env.BROADCAST_CLAIM || 'chat:broadcast';

// The issuer's keys are fetched during init, as aws-jwt-verify advises for Lambda: init runs with
// a whole vCPU, the first invocation at the function's share (at 256 MB the fetch and its TLS
// handshake there took most of a cold authorizer's time: bench/README.md, "Cold start"). Bounded,
// and never fatal: a configuration error is reported by the first invocation, and keys that could
// not be fetched now are fetched by the first verify, as before.
const hydrateTimeoutMs = 2000;
try {
  verifier = verifierFromEnv();
  await Promise.race([verifier.hydrate().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, hydrateTimeoutMs).unref())]);
} catch {
  verifier = undefined; // verifierFromEnv() throws it again, with its message, at each invocation
}

const policy = (effect: 'Allow' | 'Deny', methodArn: string) => ({
  Version: '2012-10-17',
  Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
});

const log = (level: 'info' | 'warn', msg: string, extra: Record<string, unknown>) => console.log(JSON.stringify({ level, msg, ...extra }));

export const handler = async (event: APIGatewayRequestAuthorizerEvent) => {
  const token = event.queryStringParameters?.token;
  verifier ??= verifierFromEnv();
  if (!token) throw new Error('Unauthorized');
  let payload: JwtPayload;
  try {
    payload = await verifier.verify(token);
  } catch (error) {
    // A bad token is the caller's problem (401). Anything else (the issuer's keys unreachable) is
    // ours: it propagates, and API Gateway answers 500.
    if (!(error instanceof JwtBaseError) || error instanceof FetchError) throw error;
    log('info', 'authorizer: token refused', { reason: error.name, message: error.message, trusts: verifier.describe });
    throw new Error('Unauthorized');
  }
  const userId = payload.sub;
  const name = displayNameOf(payload);
  // The store keys a user's connections by this id: one it cannot keep is refused here (403), not
  // by a $connect that would fail with 500.
  if (typeof userId === 'string' && userId.length > maxUserIdLength) {
    log('warn', `authorizer: valid token, but its sub is longer than the ${maxUserIdLength} characters a user id may have`, { subLength: userId.length });
    return { principalId: 'anonymous', policyDocument: policy('Deny', event.methodArn) };
  }
  if (typeof userId !== 'string' || userId === '' || name === undefined) {
    log('warn', 'authorizer: valid token, but no user id or no display name in the safe set (1-64 letters, digits, _ . -)', { sub: userId });
    return { principalId: typeof userId === 'string' && userId !== '' ? userId : 'anonymous', policyDocument: policy('Deny', event.methodArn) };
  }
  return {
    principalId: userId,
    policyDocument: policy('Allow', event.methodArn),
    context: { name, broadcast: hasClaim(payload, broadcastClaim) },
  };
};
