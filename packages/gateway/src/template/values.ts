// Checks for plain values the template gives.

export const positiveNumber = (value: unknown, fallback: number, what: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
};
