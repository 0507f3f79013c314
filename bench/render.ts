// Re-renders the markdown tables of a saved results file: node bench/render.ts bench/results/full-….json
import { readFileSync } from 'node:fs';
import { renderTables } from './lib/report.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/render.ts <results.json>');
process.stdout.write(renderTables(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>));
