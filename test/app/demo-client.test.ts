// The demo page loads demo/client.js, a bundle of src/client: it must be what the sources build to.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { bundleDemoClient, demoClientPath } from '../../scripts/demo-client.ts';

describe('demo/client.js', () => {
  it('is the current bundle of src/client (run `npm run build:demo-client` after changing it)', async () => {
    expect(readFileSync(demoClientPath, 'utf8')).toBe(await bundleDemoClient());
  });
});
