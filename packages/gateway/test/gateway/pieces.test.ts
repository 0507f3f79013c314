// The gateway's pure pieces: route selection as API Gateway evaluates it, and env.json overrides
// as `sam local invoke` applies them.
import { describe, expect, test } from '@jest/globals';
import { routeSelector } from '../../src/route-selection.ts';
import { applyEnvOverrides } from '../../src/env-file.ts';

describe('routeSelector', () => {
  const select = routeSelector('$request.body.action', ['$connect', '$disconnect', '$default', 'join', 'send']);

  test('selects the route named by the value, else $default', () => {
    expect(select('{"action":"join"}')).toEqual({ route: 'join' });
    expect(select('{"action":"dance"}')).toEqual({ route: '$default' });
    expect(select('{"action":{"nested":true}}')).toEqual({ route: '$default' });
    expect(select('not json')).toEqual({ route: '$default' });
    expect(select(undefined)).toEqual({ route: '$default' }); // binary
  });

  test('$connect and $disconnect are never selected by a message', () => {
    expect(select('{"action":"$connect"}')).toEqual({ route: '$default' });
    expect(select('{"action":"$disconnect"}')).toEqual({ route: '$default' });
  });

  test('nested paths and non-string values', () => {
    const nested = routeSelector('$request.body.meta.kind', ['1', 'x']);
    expect(nested('{"meta":{"kind":1}}')).toEqual({ route: '1' });
    expect(nested('{"meta":{"kind":"y"}}')).toEqual({ route: undefined, reason: 'no route for y' });
  });

  test('without $default, an unmatched message says why', () => {
    const strict = routeSelector('$request.body.action', ['join']);
    expect(strict('nope')).toEqual({ route: undefined, reason: 'message is not JSON' });
  });

  test('an expression it cannot evaluate is a clear error', () => {
    expect(() => routeSelector('$request.header.x', ['a'])).toThrow(/Unsupported RouteSelectionExpression/);
  });
});

describe('applyEnvOverrides', () => {
  const declared = { TABLE_NAME: 'Table', AWS_ENDPOINT_URL_DYNAMODB: '', LOG: 'info' };

  test("Parameters apply to all, the function's own block wins, undeclared names are ignored", () => {
    const o = applyEnvOverrides('SendFunction', declared, {
      Parameters: { LOG: 'debug', TABLE_NAME: 'T1', EXTRA: 'x' },
      SendFunction: { TABLE_NAME: 'T2' },
      JoinFunction: { LOG: 'warn' },
    });
    expect(o.environment).toEqual({ TABLE_NAME: 'T2', AWS_ENDPOINT_URL_DYNAMODB: '', LOG: 'debug' });
    expect(o.ignored).toEqual(['EXTRA']);
  });

  test('host.docker.internal becomes 127.0.0.1, and says where', () => {
    const o = applyEnvOverrides('F', declared, { Parameters: { AWS_ENDPOINT_URL_DYNAMODB: 'http://host.docker.internal:8000' } });
    expect(o.environment.AWS_ENDPOINT_URL_DYNAMODB).toBe('http://127.0.0.1:8000');
    expect(o.rewritten).toEqual(['AWS_ENDPOINT_URL_DYNAMODB']);
  });
});
