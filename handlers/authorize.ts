import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { FetchError, JwtBaseError } from 'aws-jwt-verify/error';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { isSafeName } from './lib/protocol.ts';
import { verifierFromEnv } from './lib/verifier.ts';

/**
 * The $connect authorizer (a Lambda REQUEST authorizer; API Gateway runs it before $connect).
 * Browsers cannot set headers on a WebSocket, so the JWT comes in the `token` query string
 * (`wss://…/dev?token=eyJ…`; the template makes it the identity source, so a connection without
 * one is refused with 401 before this runs).
 *
 *   a token that fails verification (signature, kid, issuer, audience, expiry) → throw "Unauthorized" → 401
 *   a valid token without a usable display name                                → Deny                   → 403
 *   a valid token                                                               → Allow, principalId = sub,
 *                                                                                 context { name, broadcast }
 *
 * Every route of the connection then sees requestContext.authorizer = { principalId, name,
 * broadcast } (handlers/lib/identity.ts). The result stays far below API Gateway's 8 KB cap.
 */

// At init: a configuration that trusts nobody fails here, once, with the reason in the log.
const verifier = verifierFromEnv();
const broadcastClaim = process.env.BROADCAST_CLAIM || 'chat:broadcast';

/** The first of name, preferred_username, cognito:username that the chat can show as it is. */
export const displayNameOf = (payload: JwtPayload): string | undefined =>
  [payload.name, payload.preferred_username, payload['cognito:username']].find(isSafeName);

/** The claim in an OIDC `scope` (space-separated) or `scp` (list), or as a Cognito group. */
export const hasClaim = (payload: JwtPayload, claim: string): boolean => {
  const scope = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  const listed = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  return [...scope, ...listed(payload.scp), ...listed(payload['cognito:groups'])].includes(claim);
};

const policy = (effect: 'Allow' | 'Deny', methodArn: string) => ({
  Version: '2012-10-17',
  Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
});

const log = (level: 'info' | 'warn', msg: string, extra: Record<string, unknown>) => console.log(JSON.stringify({ level, msg, ...extra }));

export const handler = async (event: APIGatewayRequestAuthorizerEvent) => {
  const token = event.queryStringParameters?.token;
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
