import type { WsEvent } from '../types.ts';
import { partitionOf } from './partition.ts';

/**
 * The @connections endpoint for this event. The SDK's service variable wins (local gateway,
 * tests, VPC endpoints); otherwise it is built from apiId, region and stage. `domainName` is not
 * used: behind a custom domain it names the domain, where @connections does not live.
 * The DNS suffix is the region's partition's (amazonaws.com.cn in China, c2s.ic.gov in aws-iso,
 * ...), as the SDK's endpoint rules for this service resolve it (partition.ts, checked against the
 * SDK's own table by test); a region the table does not list yet is placed by its partition's name pattern.
 */
export const managementEndpoint = (event: Pick<WsEvent, 'requestContext'>, env: NodeJS.ProcessEnv = process.env): string => {
  const override = env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
  if (override) return override.replace(/\/+$/, '');
  const { apiId, stage } = event.requestContext ?? {};
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!apiId || !stage || !region) {
    throw new Error(
      'cannot derive the @connections endpoint: the event needs requestContext.apiId and requestContext.stage, and AWS_REGION must be set ' +
        '(or set AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI)',
    );
  }
  return `https://${apiId}.execute-api.${region}.${partitionOf(region).dnsSuffix}/${stage}`;
};

export const regionOf = (env: NodeJS.ProcessEnv = process.env): string => env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
