// ws-outbox/client ships to browsers as it is: it bundles for the browser platform with nothing
// external (no runtime dependency, no node: module), and stays small (minified + gzipped).
import { describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const entry = new URL('../../../src/client/index.ts', import.meta.url).pathname;

describe('the client bundle', () => {
  it('bundles for the browser with no imports left, under 6 KB minified and gzipped', async () => {
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bimport\s*[\w{*]|\bimport\(|require\(/);
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`ws-outbox/client: ${code.length} bytes minified, ${gzipped} bytes gzipped`);
    expect(gzipped).toBeLessThan(6 * 1024);
  });
});
