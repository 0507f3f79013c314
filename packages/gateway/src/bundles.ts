// Builds the functions' bundles with the same code as `ws-outbox build` (the same esbuild settings
// that ship to Lambda), so the gateway and `ws-outbox invoke` run exactly what would be deployed.
import { build, type BuiltFunction } from './build.ts';

export type { BuiltFunction };

export interface BundleOptions {
  template: string;
  /** undefined → each function's CodeUri (as `ws-outbox build`); a folder → `<outdir>/<name>/`. */
  outdir?: string;
  /** Logical ids; all when empty. */
  functions: string[];
}

export const buildBundles = (options: Pick<BundleOptions, 'template'> & Partial<BundleOptions>): Promise<BuiltFunction[]> =>
  build({ template: options.template, outdir: options.outdir, functions: options.functions ?? [], quiet: true });
