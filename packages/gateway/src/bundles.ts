// Makes the functions' code as the template deploys it (function-code.ts): this project's own
// bundles with the same code as `ws-outbox build`, SAM's esbuild and makefile builds, or the
// CodeUri as it is, so the gateway and `ws-outbox invoke` run exactly what would be deployed.
import type { BuiltFunction } from './build.ts';
import { prepareFunctionCode } from './function-code.ts';

export type { BuiltFunction };

export interface BundleOptions {
  template: string;
  /** undefined → each function's CodeUri (as `ws-outbox build`); a folder → `<outdir>/<name>/`. */
  outdir?: string;
  /** Logical ids; all when empty. */
  functions: string[];
  /** Progress lines (dependency installs, make runs). */
  say?: (line: string) => void;
}

export const buildBundles = (options: Pick<BundleOptions, 'template'> & Partial<BundleOptions>): Promise<BuiltFunction[]> =>
  prepareFunctionCode({ template: options.template, outdir: options.outdir, functions: options.functions ?? [], say: options.say });
