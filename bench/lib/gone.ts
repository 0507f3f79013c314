// Which ids the sink treats as gone. A pure function of the id, so the harness can know the
// expected gone set without asking the sink, and every contender sees the same ids gone.

/** FNV-1a, 32 bit: cheap, stable across processes, well spread over `conn-<n>` ids. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};

/** True when `id` falls in the gone share (0..1). */
export const isGone = (id: string, goneShare: number): boolean =>
  goneShare > 0 && (fnv1a(id) % 10_000) < goneShare * 10_000;

/** The recipient ids every contender broadcasts to. */
export const benchIds = (n: number, prefix = 'conn'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
