// Jest 30 runs the TypeScript sources as native ESM, transformed by swc (ts-jest does not
// support TypeScript 7). Tests import `.ts` files directly; a `.js` specifier (as in the README's
// package examples) is mapped back to its source.
//
// Native ESM in Jest needs Node's --experimental-vm-modules. `npm test` sets it; a plain `npx jest`
// would fail on the first `import` with a misleading module error, so without the flag this config
// runs the same command line again in a child process that has it, and exits with its status.
import { spawnSync } from 'node:child_process';

// The second flag makes the processes that tests start resolve ws-outbox and @ws-outbox/gateway to
// their sources, as `npm test` does.
const vmModules = '--experimental-vm-modules';
const sources = '--conditions=ws-outbox-source';
if (!process.execArgv.includes(vmModules) && !(process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(vmModules)) {
  const child = spawnSync(process.execPath, process.argv.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${vmModules} ${sources}`.trim() },
  });
  process.exit(child.status ?? 1);
}

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // ws-outbox and @ws-outbox/gateway resolve to their TypeScript sources here (package.json exports,
  // condition ws-outbox-source), as tsc, esbuild and the npm scripts' Node resolve them.
  testEnvironmentOptions: { customExportConditions: ['node', 'node-addons', 'ws-outbox-source'] },
  // test/framework: the library, on fixtures of its own; packages/gateway/test: the local gateway;
  // test/app: the example app (yours to change); test/package: the packed tarballs in a fresh project.
  roots: ['<rootDir>/test', '<rootDir>/packages/gateway/test'],
  testMatch: ['**/*.test.ts'],
  // Two tests run alone, each with its own script: the browser (npm run test:e2e), and docs/add-route.md
  // ("Add a route") on a copy of the repository (npm run test:add-route), whose own jest run would
  // compete for the cores with the timing-sensitive tests of this one.
  testPathIgnorePatterns: ['/node_modules/', '/test/app/e2e/', '/test/app/add-route\\.test\\.ts$'],
  testTimeout: 30000,
  // One temp folder per run, removed at the end; Jest's own cache stays out of the temp dir.
  globalSetup: '<rootDir>/test/temp-dir.setup.mjs',
  globalTeardown: '<rootDir>/test/temp-dir.teardown.mjs',
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
};
