export { forEachBounded } from '../../src/bounded.ts';
