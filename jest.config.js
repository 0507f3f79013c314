// Jest 30 runs the TypeScript sources as native ESM, transformed by swc (ts-jest does not
// support TypeScript 7). Tests import `.ts` files directly; a `.js` specifier (as in the README's
// package examples) is mapped back to its source.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
      module: { type: 'es6' },
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
  testTimeout: 30000,
  // One temp folder per run, removed at the end; Jest's own cache stays out of the temp dir.
  globalSetup: '<rootDir>/test/temp-dir.setup.mjs',
  globalTeardown: '<rootDir>/test/temp-dir.teardown.mjs',
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
};
