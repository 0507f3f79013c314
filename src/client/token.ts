/** What a token provider resolves with: the token, and when it expires if the provider knows. */
export type TokenResult = string | { token: string; expiresAt?: number };

/** Called at every (re)connect, and ahead of the token's expiry. */
export type TokenProvider = () => Promise<TokenResult> | TokenResult;

export interface Token {
  token: string;
  /** Epoch ms; undefined when unknown. */
  expiresAt?: number;
}

/** The `exp` claim of a JWT, in epoch ms; undefined for anything else (an opaque token). */
export const jwtExpiry = (token: string): number | undefined => {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json = JSON.parse(
      atob(
        payload
          .replace(/-/g, '+')
          .replace(/_/g, '/')
          .padEnd(Math.ceil(payload.length / 4) * 4, '='),
      ),
    );
    return typeof json.exp === 'number' ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
};

export const toToken = (result: TokenResult): Token => {
  const token = typeof result === 'string' ? result : result?.token;
  if (typeof token !== 'string' || token === '') throw new TypeError('the token provider must resolve with a non-empty string or { token, expiresAt? }');
  const expiresAt = typeof result === 'object' && typeof result.expiresAt === 'number' ? result.expiresAt : jwtExpiry(token);
  return expiresAt === undefined ? { token } : { token, expiresAt };
};
