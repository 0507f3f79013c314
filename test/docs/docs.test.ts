// The docs hold together: every relative link and anchor of README.md, docs/ and the packages'
// READMEs leads somewhere; code blocks marked runnable (`file=`, `step=`) only live on the pages a
// test builds from (docs/adopting.md and docs/middy-and-powertools.md: test/package/consumer.test.ts; docs/add-route.md:
// test/app/add-route.test.ts), so no block claims to be tested without being so; the README stays
// short, and the examples import the packages by name, as an adopter does.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { docBlocks } from '../helpers/doc-blocks.ts';
import { repoRoot } from '../helpers/node.ts';

const pages = [
  'README.md',
  'packages/gateway/README.md',
  'bench/README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const testedPages = ['docs/adopting.md', 'docs/middy-and-powertools.md', 'docs/add-route.md'];

/** Markdown text without its fenced code blocks (links in code are not links). */
const prose = (text: string): string => text.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const anchorsOf = (file: string): Set<string> => {
  const seen = new Map<string, number>();
  const anchors = new Set<string>(['top']);
  for (const [, heading] of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} +(.+)$/gm)) {
    const base = slug(heading!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
};

describe('the docs', () => {
  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = prose(readFileSync(join(repoRoot, page), 'utf8'));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path === '' ? join(repoRoot, page) : join(repoRoot, dirname(page), path);
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no ${relative(repoRoot, file)})`);
          continue;
        }
        if (anchor !== undefined && statSync(file).isFile() && file.endsWith('.md') && !anchorsOf(file).has(anchor))
          broken.push(`${page}: ${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('mark blocks runnable only on the pages a test builds from', () => {
    const marked = pages.flatMap((page) =>
      docBlocks(page)
        .filter((b) => 'file' in b.attrs || 'step' in b.attrs)
        .map((b) => `${page}:${b.line}`),
    );
    expect(marked.filter((m) => !testedPages.some((p) => m.startsWith(`${p}:`)))).toEqual([]);
    for (const page of testedPages) expect(marked.some((m) => m.startsWith(`${page}:`))).toBe(true);
  });

  it("show imports by package name, never from the repository's sources", () => {
    const relativeSources = pages.flatMap((page) =>
      docBlocks(page)
        .filter((b) => /from '(\.\.?\/)+(src|middleware|packages)\//.test(b.code))
        .map((b) => `${page}:${b.line}`),
    );
    expect(relativeSources).toEqual([]);
  });

  it('keep the README short: what it is, set-up, a handler, links', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    // The two set-up commands, and that they are the ones the scripts define.
    expect(readme).toContain('npm ci && npm run dev');
    expect(readme).toContain('npm ci && npm test');
    const scripts = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts;
    expect(scripts.dev).toContain('dev --static demo');
    expect(scripts.test).toContain('jest');
  });
});
