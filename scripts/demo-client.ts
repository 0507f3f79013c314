// The demo page's copy of ws-outbox/client (demo/client.js): src/client bundled as one browser ES
// module, so the page needs no build step of its own. `npm run build:demo-client` writes it;
// test/app/demo-client.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const demoClientPath = join(root, 'demo/client.js');

/** The bundle's text, as the page loads it. */
export const bundleDemoClient = async (): Promise<string> => {
  const out = await build({
    entryPoints: [join(root, 'src/client/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    banner: { js: '// Generated from src/client by `npm run build:demo-client`: do not edit.' },
  });
  return out.outputFiles[0]!.text;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(demoClientPath, await bundleDemoClient());
  console.error(`wrote ${demoClientPath}`);
}
