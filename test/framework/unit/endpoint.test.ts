import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { destroyTransports, transportFor } from '../../../src/management/clients.ts';
import { managementEndpoint } from '../../../src/management/endpoint.ts';
import { partitionOf } from '../../../src/management/partition.ts';
import { makeWsEvent } from '../../../src/testing/events.ts';

const event = makeWsEvent({ routeKey: 'send', apiId: 'a1b2c3d4e5', stage: 'prod' });

describe('management endpoint', () => {
  it('is built from apiId, region and stage, not from domainName (custom domains)', () => {
    const custom = { ...event, requestContext: { ...event.requestContext, domainName: 'chat.example.com' } };
    expect(managementEndpoint(custom, { AWS_REGION: 'eu-west-1' })).toBe('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod');
  });

  it("is overridden by the SDK's own variable", () => {
    expect(managementEndpoint(event, { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: 'http://127.0.0.1:3001/local/' })).toBe(
      'http://127.0.0.1:3001/local',
    );
  });

  it('treats an empty variable (a SAM default) as unset', () => {
    expect(managementEndpoint(event, { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: '' })).toBe(
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod',
    );
  });

  it('says what is missing when it cannot be derived', () => {
    const bare = { requestContext: {} } as never;
    expect(() => managementEndpoint(bare, { AWS_REGION: 'us-east-1' })).toThrow(/requestContext.apiId/);
  });
});

interface SdkPartition {
  id: string;
  regionRegex: string;
  regions: Record<string, unknown>;
  outputs: { dnsSuffix: string; dualStackDnsSuffix: string };
}

/**
 * The partition table of the installed SDK (@aws-sdk/core, what its endpoint rules resolve with).
 * It is not exported, so it is read from the package's ES build, which holds it as JSON.
 */
const sdkPartitions = (): SdkPartition[] => {
  const client = createRequire(import.meta.url).resolve('@aws-sdk/core/client'); // <root>/dist-cjs/submodules/client/index.js
  const root = client.slice(0, client.lastIndexOf('/dist-cjs/'));
  const source = readFileSync(`${root}/dist-es/submodules/client/util-endpoints/lib/aws/partitions.js`, 'utf8');
  return (JSON.parse(source.slice(source.indexOf('{'), source.lastIndexOf('}') + 1)) as { partitions: SdkPartition[] }).partitions;
};

describe("the endpoint's DNS suffix is the region's partition's", () => {
  const partitions = sdkPartitions();
  // One real region of each partition (not the "aws-cn-global" pseudo-regions).
  const cases = partitions.map((p) => [p.id, Object.keys(p.regions).find((r) => new RegExp(p.regionRegex).test(r)), p.outputs.dnsSuffix] as const);

  it('for every partition the SDK knows, the ones a hand table would forget included', () => {
    expect(partitions.map((p) => p.id)).toEqual(
      expect.arrayContaining(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc']),
    );
    expect(cases.every(([, region]) => region !== undefined)).toBe(true);
  });

  it("our partition table (src/management/partition.ts) places every region of the SDK's as the SDK does, and each pattern's new regions too", () => {
    for (const p of partitions) {
      const expected = { name: p.id, dnsSuffix: p.outputs.dnsSuffix, dualStackDnsSuffix: p.outputs.dualStackDnsSuffix };
      for (const region of Object.keys(p.regions)) expect({ region, ...partitionOf(region) }).toEqual({ region, ...expected });
      // A region newer than the table, made to fit the partition's pattern.
      const future = p.regionRegex
        .replace(/^\^|\$$/g, '')
        .replace(/\((\w+)(\|[^)]*)?\)/, '$1')
        .replaceAll('\\-', '-')
        .replace('\\w+', 'future')
        .replace('\\d+', '9');
      expect(new RegExp(p.regionRegex).test(future)).toBe(true);
      expect({ future, ...partitionOf(future) }).toEqual({ future, ...expected });
    }
    expect(partitionOf('mars-north-1')).toEqual({ name: 'aws', dnsSuffix: 'amazonaws.com', dualStackDnsSuffix: 'api.aws' }); // the SDK's default
  });

  it.each(cases)('%s: %s -> .%s', (_id, region, suffix) => {
    expect(managementEndpoint(event, { AWS_REGION: region as string })).toBe(`https://a1b2c3d4e5.execute-api.${region}.${suffix}/prod`);
  });

  it('China is amazonaws.com.cn, also for a region newer than the table (matched by its pattern)', () => {
    expect(managementEndpoint(event, { AWS_REGION: 'cn-northwest-1' })).toBe('https://a1b2c3d4e5.execute-api.cn-northwest-1.amazonaws.com.cn/prod');
    expect(managementEndpoint(event, { AWS_REGION: 'cn-south-7' })).toBe('https://a1b2c3d4e5.execute-api.cn-south-7.amazonaws.com.cn/prod');
    expect(managementEndpoint(event, { AWS_REGION: 'us-isob-east-1' })).toBe('https://a1b2c3d4e5.execute-api.us-isob-east-1.sc2s.sgov.gov/prod');
  });
});

describe('client cache', () => {
  it('keeps one client per endpoint across invocations', async () => {
    const options = { region: 'us-east-1', requestTimeoutMs: 100, connectionTimeoutMs: 100, maxSockets: 4 };
    const a1 = await transportFor('sdk', { ...options, endpoint: 'https://a.example/prod' });
    const a2 = await transportFor('sdk', { ...options, endpoint: 'https://a.example/prod' });
    const b = await transportFor('sdk', { ...options, endpoint: 'https://b.example/prod' });
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    destroyTransports();
    expect(await transportFor('sdk', { ...options, endpoint: 'https://a.example/prod' })).not.toBe(a1);
    destroyTransports();
  });
});

describe('default concurrency', () => {
  it('is 50 in functions of 512 MB or less, 100 above and outside Lambda', async () => {
    const { defaultConcurrency } = await import('../../../middleware/outbox.ts');
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' })).toBe(50);
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' })).toBe(50);
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' })).toBe(100);
    expect(defaultConcurrency({})).toBe(100);
  });
});
