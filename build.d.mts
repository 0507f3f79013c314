// Types for build.mjs (plain JS so `node build.mjs` needs no loader), for TypeScript importers
// such as the local gateway and the tests.
import type { BuildOptions as EsbuildOptions } from 'esbuild';

export interface BuildOptions {
  /** Template to read; default template.yaml beside build.mjs. */
  template?: string;
  /** Logical ids to build; default every AWS::Serverless::Function. */
  functions?: string[];
  /** Output root: bundles go to <outdir>/<CodeUri's last folder>/; default each function's CodeUri. */
  outdir?: string;
  /** Default true: no esbuild warnings on stderr (the CLI sets false). */
  quiet?: boolean;
}

export interface BuiltFunction {
  logicalId: string;
  /** Absolute path of the source that was bundled. */
  entry: string;
  /** Absolute path of the bundle (<module>.mjs); its source map is outfile + '.map'. */
  outfile: string;
  bytes: number;
  mapBytes: number;
  /** Package (node_modules/<pkg>) or own source file → bytes in the bundle, largest first. */
  inputs: Array<{ name: string; bytes: number }>;
  /** Modules the bundle imports at run time (Node built-ins only). */
  externals: string[];
}

export declare const esbuildOptions: EsbuildOptions;
export declare class BuildError extends Error {}
export declare function build(options?: BuildOptions): Promise<BuiltFunction[]>;
export declare function sizeTable(results: BuiltFunction[]): string;
