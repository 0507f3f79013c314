import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { isSafeName } from './names.ts';

/** The first of name, preferred_username, cognito:username that the chat can show as it is. */
export const displayNameOf = (payload: JwtPayload): string | undefined =>
  [payload.name, payload.preferred_username, payload['cognito:username']].find(isSafeName);

/** The claim in an OIDC `scope` (space-separated) or `scp` (list), or as a Cognito group. */
export const hasClaim = (payload: JwtPayload, claim: string): boolean => {
  const scope = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  const listed = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  return [...scope, ...listed(payload.scp), ...listed(payload['cognito:groups'])].includes(claim);
};

/**
 * The longest `sub` the chat accepts: the connection store keeps user ids of at most this many
 * characters (ws-outbox/store's maxUserIdLength; a test keeps the two equal). Written out here so
 * that the authorizer's bundle does not carry the store.
 */
export const maxUserIdLength = 256;
