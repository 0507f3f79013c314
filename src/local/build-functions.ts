// Bundles the template's functions the way they ship: one ESM file per function,
// `<outdir>/<LogicalId>/index.mjs`, so the gateway runs the same code Lambda would.
// (Adapter: the project's build.mjs is the source of truth once it exposes `build(options)`;
// until then this bundles every function that declares `Metadata.BuildEntry`.)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { AppModel } from './app-model.ts';

export interface BuiltFunction {
  logicalId: string;
  entry: string;
  outfile: string;
  bytes: number;
}

export interface BuildOptions {
  outdir: string;
  /** Only these functions (default: all). */
  only?: string[];
  sourcemap: boolean;
}

const defaults: Omit<BuildOptions, 'outdir'> = { sourcemap: true };

// ESM bundles of CommonJS dependencies (parts of the AWS SDK) still call `require` for Node
// built-ins; Lambda's own bundling guides add the same banner.
const banner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

export const buildFunctions = async (model: AppModel, options: Partial<BuildOptions> & { outdir: string }): Promise<BuiltFunction[]> => {
  const opts = { ...defaults, ...options };
  const wanted = [...model.functions.values()].filter((f) => !opts.only || opts.only.includes(f.logicalId));
  const missing = wanted.filter((f) => !f.buildEntry).map((f) => f.logicalId);
  if (missing.length > 0) throw new Error(`No build entry for ${missing.join(', ')}: add Metadata: { BuildEntry: path/to/handler.ts }`);
  return Promise.all(wanted.map(async (fn) => {
    const [moduleName] = fn.handler.split('.');
    const dir = join(opts.outdir, fn.logicalId);
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, `${moduleName}.mjs`);
    const result = await build({
      entryPoints: [fn.buildEntry!], outfile, bundle: true, platform: 'node', format: 'esm',
      target: 'node24', sourcemap: opts.sourcemap ? 'linked' : false, metafile: true,
      banner: { js: banner }, logLevel: 'silent', legalComments: 'none',
    });
    const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
    return { logicalId: fn.logicalId, entry: fn.buildEntry!, outfile, bytes };
  }));
};
