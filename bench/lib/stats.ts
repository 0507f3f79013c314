// Small numeric helpers for the table.
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
