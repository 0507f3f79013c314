// Files the function workers need beside their code, made once per gateway process in a scratch
// folder of its own (removed when the process exits):
//   - the runtime SDK folder (runtime-sdk.ts);
//   - the worker script for a Node other than the gateway's: in this repository the worker is
//     TypeScript, which only Node 24 runs as is, so for Node 20 or 22 it is bundled to plain
//     JavaScript once (the installed package ships JavaScript and needs no bundle).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { prepareRuntimeSdk } from './runtime-sdk.ts';
import { isTypeScript } from './sibling.ts';

let scratch: string | undefined;

/** This process's scratch folder for worker files (created on first use, removed at exit). */
export const scratchFolder = (): string => {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-workers-'));
    scratch = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
};

let sdk: string | undefined | null = null;

/** The runtime SDK's node_modules folder (see runtime-sdk.ts); undefined when the gateway has none. */
export const runtimeSdkFolder = (): string | undefined => {
  if (sdk === null) sdk = prepareRuntimeSdk(join(scratchFolder(), 'runtime-sdk'));
  return sdk;
};

const bundles = new Map<string, Promise<string>>();

/**
 * The worker script to fork on a Node of major `major`: `runtimePath` itself when that Node can
 * run it, else a JavaScript bundle of it for that Node.
 */
export const runtimeFor = (runtimePath: string, major: number): Promise<string> => {
  const own = Number(process.versions.node.split('.')[0]);
  if (!isTypeScript(runtimePath) || major === own) return Promise.resolve(runtimePath);
  const key = `${runtimePath}@${major}`;
  let bundle = bundles.get(key);
  if (bundle === undefined) {
    const outfile = join(scratchFolder(), `runtime-node${major}.mjs`);
    bundle = esbuild
      .build({
        entryPoints: [runtimePath],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: `node${major}`,
        packages: 'external',
        logLevel: 'silent',
      })
      .then(() => outfile);
    bundles.set(key, bundle);
  }
  return bundle;
};
