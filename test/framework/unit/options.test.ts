// Options merge over defaults without letting `undefined` erase them, and nonsense numbers fail
// when the middleware is built, naming the option.
import { describe, expect, it } from '@jest/globals';
import { defaultSpillThreshold, outbox, outboxDefaults } from '../../../middleware/outbox.ts';
import { checkNumber, withDefaults } from '../../../src/options.ts';

describe('withDefaults', () => {
  it('keeps a default when the option is undefined, and takes every other value (false and 0 included)', () => {
    expect(withDefaults({ a: 1, b: 2, c: true, d: 5 }, { a: undefined, b: 3, c: false, d: 0 })).toEqual({ a: 1, b: 3, c: false, d: 0 });
  });
});

describe('checkNumber', () => {
  it.each([
    [Number.NaN, {}, 'x must be a finite number >= 0; got NaN'],
    [Number.POSITIVE_INFINITY, {}, 'x must be a finite number >= 0; got Infinity'],
    ['5', {}, 'x must be a finite number >= 0; got 5'],
    [-1, {}, 'x must be a finite number >= 0; got -1'],
    [1.5, { integer: true, min: 1 }, 'x must be an integer >= 1; got 1.5'],
  ])('%p is refused', (value, rule, message) => {
    expect(() => checkNumber('x', value, rule)).toThrow(new TypeError(message));
  });
  it('accepts what is in range', () => {
    expect(checkNumber('x', 0)).toBe(0);
    expect(checkNumber('x', 3, { min: 1, integer: true })).toBe(3);
  });
});

describe('outbox() options', () => {
  it('spills past 5,000 recipients with a whole vCPU, fewer with a share of one (Lambda gives CPU in proportion to memory)', () => {
    expect(defaultSpillThreshold({})).toBe(5000);
    expect(defaultSpillThreshold({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' })).toBe(5000);
    expect(defaultSpillThreshold({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008' })).toBe(5000);
    expect(defaultSpillThreshold({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256' })).toBe(700);
    expect(defaultSpillThreshold({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' })).toBe(500);
  });

  it('takes a fan-out queue and threshold, or false', () => {
    expect(() => outbox({ fanout: { queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/q', threshold: 0 } })).not.toThrow();
    expect(() => outbox({ fanout: false })).not.toThrow();
  });

  it('an option passed as undefined keeps its default (a spread would have erased it)', () => {
    expect(() => outbox({ requestTimeoutMs: undefined, concurrency: undefined, backoff: { baseMs: undefined } })).not.toThrow();
    expect(outboxDefaults.requestTimeoutMs).toBe(2000);
  });

  it.each([
    [{ concurrency: 0 }, 'outbox concurrency must be an integer >= 1; got 0'],
    [{ maxAttempts: 2.5 }, 'outbox maxAttempts must be an integer >= 1; got 2.5'],
    [{ requestTimeoutMs: Number.NaN }, 'outbox requestTimeoutMs must be a finite number >= 1; got NaN'],
    [{ safetyMarginMs: -5 }, 'outbox safetyMarginMs must be a finite number >= 0; got -5'],
    [{ backoff: { capMs: Number.POSITIVE_INFINITY } }, 'outbox backoff.capMs must be a finite number >= 0; got Infinity'],
    [{ fanout: { threshold: -1 } }, 'outbox fanout.threshold must be an integer >= 0; got -1'],
    [{ fanout: { threshold: 2.5 } }, 'outbox fanout.threshold must be an integer >= 0; got 2.5'],
    [{ fanout: 'yes' as never }, 'outbox fanout must be { queueUrl?, threshold? } or false'],
    [{ fanout: { queueUrl: 'my-queue' } }, 'outbox fanout.queueUrl must be an SQS queue URL; got my-queue'],
  ])('%j is refused when the middleware is built', (options, message) => {
    expect(() => outbox(options)).toThrow(new TypeError(message));
  });
});
