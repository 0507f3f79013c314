// Options schemas (src/schema.ts): one per options type, the fan-out worker's derived from the
// outbox's, and every error a TypeError that names the option.
import { describe, expect, it } from '@jest/globals';
import { outbox, outboxOptionsSchema } from '../../../middleware/outbox.ts';
import { fanoutHandler, fanoutOptionsSchema } from '../../../src/fanout/worker.ts';
import { checkOptions, pickRules, type Schema } from '../../../src/schema.ts';

const schema = {
  n: { type: 'number', min: 1, integer: true },
  mode: { type: 'literal', values: ['a', 'b'] },
  nested: { type: 'object', fields: { x: { type: 'number' } } },
  sink: { type: 'anyOf', rules: [{ type: 'function' }, { type: 'literal', values: [false] }], expected: 'a function or false' },
  url: { type: 'string', pattern: /^https:\/\//, expected: 'an https URL' },
} satisfies Schema;

describe('checkOptions', () => {
  it('accepts what the schema allows, and skips undefined (defaults stay)', () => {
    expect(() => checkOptions('t', schema, { n: 2, mode: 'b', nested: { x: 0 }, sink: false, url: 'https://x' })).not.toThrow();
    expect(() => checkOptions('t', schema, { n: undefined, sink: () => undefined })).not.toThrow();
  });

  it.each([
    [{ n: 0 }, 't n must be an integer >= 1; got 0'],
    [{ mode: 'c' }, 't mode must be one of "a", "b"; got c'],
    [{ nested: 3 }, 't nested must be an object; got 3'],
    [{ nested: { x: -1 } }, 't nested.x must be a finite number >= 0; got -1'],
    [{ nested: { y: 1 } }, 't: unknown option nested.y (known: nested.x)'],
    [{ sink: 'console' }, 't sink must be a function or false'],
    [{ url: 'http://x' }, 't url must be an https URL; got http://x'],
    [{ concurency: 5 }, 't: unknown option concurency (known: n, mode, nested, sink, url)'],
  ])('%j is refused with a message naming the option', (options, message) => {
    expect(() => checkOptions('t', schema, options)).toThrow(new TypeError(message));
  });

  it('pickRules takes the same rule objects, and refuses a key the schema lacks', () => {
    const picked = pickRules(schema, ['n', 'url']);
    expect(picked.n).toBe(schema.n);
    expect(Object.keys(picked)).toEqual(['n', 'url']);
    expect(() => pickRules(schema, ['nope' as 'n'])).toThrow('pickRules: the schema has no nope');
  });
});

describe('the outbox and the fan-out worker', () => {
  it("the worker's delivery options are checked by the outbox's own rules", () => {
    // store is the one shared name with a rule of its own: a worker cannot do without a store (no `false`).
    const shared = Object.keys(fanoutOptionsSchema).filter((key) => Object.hasOwn(outboxOptionsSchema, key) && key !== 'store');
    expect(shared.length).toBeGreaterThanOrEqual(10);
    for (const key of shared) {
      expect([key, fanoutOptionsSchema[key as keyof typeof fanoutOptionsSchema]]).toEqual([key, outboxOptionsSchema[key as keyof typeof outboxOptionsSchema]]);
    }
    // The same bad value, the same words (before, the worker skipped connectionTimeoutMs and fallbackTimeoutMs).
    for (const [key, value] of [
      ['connectionTimeoutMs', 0],
      ['fallbackTimeoutMs', 0],
      ['transport', 'fast'],
      ['backoff', { capMs: -1 }],
    ] as const) {
      const fromOutbox = (() => {
        try {
          outbox({ [key]: value });
        } catch (e) {
          return (e as Error).message;
        }
        return 'accepted';
      })();
      const fromWorker = (() => {
        try {
          fanoutHandler({ [key]: value });
        } catch (e) {
          return (e as Error).message;
        }
        return 'accepted';
      })();
      expect(fromOutbox).toMatch(/^outbox /);
      expect(fromWorker).toBe(fromOutbox.replace(/^outbox/, 'fanout'));
    }
  });

  it('a typo in an option name is an error, not a silently ignored option', () => {
    expect(() => outbox({ concurency: 5 } as never)).toThrow(/^outbox: unknown option concurency \(known: concurrency, /);
    expect(() => fanoutHandler({ retryDelaySecond: 5 } as never)).toThrow(/^fanout: unknown option retryDelaySecond/);
  });
});
