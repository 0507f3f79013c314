// A suite that needs something this machine may lack (SAM CLI, cgroups, /proc) says so when it
// skips: one line on the test output with why and how to run it, so a skip is never silent.
import { describe } from '@jest/globals';

/** `describe` when `available`, else `describe.skip`, after printing `skipped <suite>: <why>`. */
export const describeWhen = (available: boolean, suite: string, why: string): typeof describe.skip => {
  if (available) return describe;
  process.stdout.write(`skipped ${suite}: ${why}\n`);
  return describe.skip;
};
