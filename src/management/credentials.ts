import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

// Lambda hands every function its role's credentials in the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which is the first source of the SDK's own chain.
// Read there, they cost nothing; the full chain (@aws-sdk/credential-provider-node: profiles, SSO,
// web identity, container and instance metadata) is loaded only when they are absent, so a cold
// function does not evaluate it (bench/README.md, "Cold start").

/** The environment's static credentials, as the SDK's fromEnv reads them; none under AWS_PROFILE (the SDK's chain then prefers the profile). */
export const environmentCredentials = (env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity | undefined => {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (env.AWS_PROFILE || !accessKeyId || !secretAccessKey) return undefined;
  const expiry = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiry && !Number.isNaN(expiry.getTime()) ? { expiration: expiry } : {}),
  };
};

/**
 * The SDK's default credential chain, with its first link (the environment) inlined. Read once,
 * like the SDK's memoized chain: a process keeps the credentials it started with; the chain
 * itself refreshes temporary credentials before they expire.
 */
export const defaultCredentials = (): AwsCredentialIdentityProvider => {
  let fromEnv: AwsCredentialIdentity | undefined | null = null;
  let chain: AwsCredentialIdentityProvider | undefined;
  return async (properties) => {
    if (fromEnv === null) fromEnv = environmentCredentials();
    if (fromEnv !== undefined) return fromEnv;
    chain ??= (await import('@aws-sdk/credential-provider-node')).defaultProvider();
    return chain(properties);
  };
};
