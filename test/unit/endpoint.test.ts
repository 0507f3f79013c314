import { describe, expect, it } from '@jest/globals';
import { destroyTransports, transportFor } from '../../src/management/clients.ts';
import { managementEndpoint } from '../../src/management/endpoint.ts';
import { makeWsEvent } from '../../src/testing/events.ts';

const event = makeWsEvent({ routeKey: 'send', apiId: 'a1b2c3d4e5', stage: 'prod' });

describe('management endpoint', () => {
  it('is built from apiId, region and stage, not from domainName (custom domains)', () => {
    const custom = { ...event, requestContext: { ...event.requestContext, domainName: 'chat.example.com' } };
    expect(managementEndpoint(custom, { AWS_REGION: 'eu-west-1' })).toBe('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod');
  });

  it("is overridden by the SDK's own variable", () => {
    expect(managementEndpoint(event, { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: 'http://127.0.0.1:3001/local/' })).toBe('http://127.0.0.1:3001/local');
  });

  it('treats an empty variable (a SAM default) as unset', () => {
    expect(managementEndpoint(event, { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: '' })).toBe('https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod');
  });

  it('says what is missing when it cannot be derived', () => {
    const bare = { requestContext: {} } as never;
    expect(() => managementEndpoint(bare, { AWS_REGION: 'us-east-1' })).toThrow(/requestContext.apiId/);
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
    const { defaultConcurrency } = await import('../../middleware/outbox.ts');
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' })).toBe(50);
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' })).toBe(50);
    expect(defaultConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' })).toBe(100);
    expect(defaultConcurrency({})).toBe(100);
  });
});
