// Options are merged over a `defaults` object, as Middy's packages do, with two differences that
// matter for users: an option passed as `undefined` keeps its default (a spread would let it
// erase the default, and e.g. `setTimeout(undefined)` fires at once), and a numeric option that
// makes no sense is a clear error when the middleware is built, not a hang at the first send.

/** `{ ...defaults, ...options }`, except that `undefined` options keep their defaults. */
export const withDefaults = <D extends object, O extends object>(defaults: D, options: O): D & O => {
  const merged = { ...defaults } as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as D & O;
};

/** Throws a TypeError naming the option unless `value` is a finite number >= min (an integer if asked). */
export const checkNumber = (name: string, value: unknown, { min = 0, integer = false } = {}): number => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be ${integer ? 'an integer' : 'a finite number'} >= ${min}; got ${String(value)}`);
  }
  return value;
};
