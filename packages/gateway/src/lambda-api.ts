// The Lambda Invoke API's pure parts, as AWS documents them: the path
// (`POST /2015-03-31/functions/{FunctionName}/invocations`), the FunctionName forms (a name, a
// partial ARN `<account>:function:<name>`, a full ARN, each with an optional `:qualifier`), the
// invocation types and payload limits, and the answers' shapes: REST-JSON errors (`Type`, `message`
// and the type in `x-amzn-ErrorType`, which both boto3 and SDK v3 read for the exception's class),
// and the body of a function error as Lambda's runtimes write it.
import type { InvokeOutcome } from './function-pool.ts';

export type InvocationType = 'RequestResponse' | 'Event' | 'DryRun';

export const invocationTypes: readonly InvocationType[] = ['RequestResponse', 'Event', 'DryRun'];

/** Invoke's payload quotas: 6 MB synchronous, 1 MB asynchronous (Lambda quotas). */
export const payloadLimits: Record<InvocationType, number> = { RequestResponse: 6 * 1024 * 1024, Event: 1024 * 1024, DryRun: 6 * 1024 * 1024 };

/** An error answer of the Lambda API: its HTTP status, exception type and message. */
export interface LambdaApiError {
  status: number;
  type: string;
  message: string;
  /** Throttling answers say why (Lambda's `Reason`). */
  reason?: string;
}

export const apiError = (status: number, type: string, message: string, reason?: string): LambdaApiError => ({ status, type, message, reason });

/** The body and headers Lambda answers an error with: `{"Type":"User"|"Service","message":…}`, the type in `x-amzn-ErrorType`. */
export const errorAnswer = (error: LambdaApiError, requestId: string): { headers: Record<string, string>; body: string } => {
  const body = JSON.stringify({
    Type: error.status >= 500 ? 'Service' : 'User',
    message: error.message,
    ...(error.reason === undefined ? {} : { Reason: error.reason }),
  });
  return {
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-amzn-ErrorType': error.type,
      'x-amzn-RequestId': requestId,
    },
    body,
  };
};

/** The FunctionName of an Invoke path, URL-decoded; undefined for any other path. */
export const invokePathOf = (url: string | undefined): { functionName: string; qualifier: string | undefined } | undefined => {
  const parsed = new URL(url ?? '/', 'http://local');
  const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(parsed.pathname);
  if (!match) return undefined;
  let functionName: string;
  try {
    functionName = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return { functionName, qualifier: parsed.searchParams.get('Qualifier') ?? undefined };
};

/** Invoke's FunctionName pattern (the API reference's, for the commercial, China and GovCloud partitions). */
const functionNamePattern =
  /^(?:arn:(aws[a-zA-Z-]*)?:lambda:)?(?:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_.-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$/;

export interface FunctionRef {
  name: string;
  region: string | undefined;
  accountId: string | undefined;
  qualifier: string | undefined;
}

/** The parts of a FunctionName (a name, partial ARN or ARN), or Lambda's ValidationException. */
export const parseFunctionName = (written: string): FunctionRef | LambdaApiError => {
  const match = written.length <= 170 ? functionNamePattern.exec(written) : null;
  if (!match || (written.startsWith('arn:') && match[2] === undefined)) {
    return apiError(
      400,
      'ValidationException',
      `1 validation error detected: Value '${written}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ` +
        '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?',
    );
  }
  return { region: match[2], accountId: match[3], name: match[4]!, qualifier: match[5] };
};

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`. */
export const functionArn = (region: string, accountId: string, name: string, qualifier?: string): string =>
  `arn:aws:lambda:${region}:${accountId}:function:${name}${qualifier === undefined ? '' : `:${qualifier}`}`;

/**
 * The function a FunctionName and `?Qualifier=` name among `names` (every name a local function
 * answers to → its logical id), or the error Lambda answers: ResourceNotFoundException for a name,
 * region, account or version that is not there (only `$LATEST` exists locally), and
 * InvalidParameterValueException when the ARN's qualifier and the query's differ.
 */
export const resolveFunction = (
  written: string,
  queryQualifier: string | undefined,
  names: ReadonlyMap<string, string>,
  here: { region: string; accountId: string },
): { logicalId: string; name: string } | LambdaApiError => {
  const ref = parseFunctionName(written);
  if ('status' in ref) return ref;
  if (ref.qualifier !== undefined && queryQualifier !== undefined && ref.qualifier !== queryQualifier) {
    return apiError(400, 'InvalidParameterValueException', 'The derived qualifier from the function name does not match the specified qualifier.');
  }
  const qualifier = ref.qualifier ?? queryQualifier;
  const region = ref.region ?? here.region;
  const accountId = ref.accountId ?? here.accountId;
  const logicalId = names.get(ref.name);
  if (logicalId === undefined || region !== here.region || accountId !== here.accountId || (qualifier !== undefined && qualifier !== '$LATEST')) {
    return apiError(404, 'ResourceNotFoundException', `Function not found: ${functionArn(region, accountId, ref.name, qualifier)}`);
  }
  return { logicalId, name: ref.name };
};

/** The invocation type of `X-Amz-Invocation-Type` (default RequestResponse), or Lambda's error for another. */
export const invocationTypeOf = (header: string | string[] | undefined): InvocationType | LambdaApiError => {
  if (header === undefined || header === '') return 'RequestResponse';
  const value = Array.isArray(header) ? header[0]! : header;
  return (invocationTypes as readonly string[]).includes(value)
    ? (value as InvocationType)
    : apiError(
        400,
        'ValidationException',
        `1 validation error detected: Value '${value}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
      );
};

/** The event a payload carries: its JSON (an empty payload is `{}`, as Lambda passes it), or InvalidRequestContentException. */
export const eventOf = (payload: Buffer): { event: unknown } | LambdaApiError => {
  if (payload.length === 0) return { event: {} };
  try {
    return { event: JSON.parse(payload.toString('utf8')) };
  } catch (error) {
    return apiError(
      400,
      'InvalidRequestContentException',
      `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`,
    );
  }
};

export const tooLarge = (type: InvocationType): LambdaApiError =>
  apiError(
    413,
    'RequestTooLargeException',
    `Request must be smaller than ${payloadLimits[type]} bytes for the ${type === 'Event' ? 'InvokeAsync' : 'Invoke'} operation`,
  );

/**
 * The body of a failed invocation's answer (with `X-Amz-Function-Error: Unhandled`), as Lambda's
 * runtimes write it: Node `{errorType, errorMessage, trace}`, Python `{errorMessage, errorType,
 * requestId, stackTrace}`; a timeout is Lambda's own `{errorMessage: "<time> <id> Task timed out after N seconds"}`.
 */
export const functionErrorBody = (
  outcome: Exclude<InvokeOutcome, { status: 'ok' }>,
  fn: { runtime: string; timeoutSeconds: number },
  now = new Date(),
): Record<string, unknown> => {
  if (outcome.status === 'timeout') {
    return { errorMessage: `${now.toISOString()} ${outcome.requestId} Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` };
  }
  const { errorType, errorMessage, trace } = outcome.error;
  if (fn.runtime.startsWith('python')) return { errorMessage, errorType, requestId: outcome.requestId, stackTrace: trace ?? [] };
  return { errorType, errorMessage, trace: trace ?? [] };
};
