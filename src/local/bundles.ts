// Builds the functions' bundles with the project's build.mjs (the same esbuild settings that ship
// to Lambda), so the gateway and `npm run invoke` run exactly what would be deployed.
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BuiltFunction {
  logicalId: string;
  entry: string;
  /** `<folder>/<handler module>.mjs`; its folder is LAMBDA_TASK_ROOT. */
  outfile: string;
  bytes: number;
}

export interface BundleOptions {
  template: string;
  /** undefined → each function's CodeUri (as `npm run build`); a folder → `<outdir>/<name>/`. */
  outdir?: string;
  /** Logical ids; all when empty. */
  functions: string[];
}

interface BuildModule {
  build(options: { template: string; outdir?: string; functions?: string[]; quiet?: boolean }): Promise<BuiltFunction[]>;
}

const buildScript = fileURLToPath(new URL('../../build.mjs', import.meta.url));

export const buildBundles = async (options: Pick<BundleOptions, 'template'> & Partial<BundleOptions>): Promise<BuiltFunction[]> => {
  const { build } = (await import(pathToFileURL(buildScript).href)) as BuildModule;
  return build({ template: options.template, outdir: options.outdir, functions: options.functions ?? [], quiet: true });
};
