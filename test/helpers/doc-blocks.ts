// The runnable code blocks of the docs. A fence's info string says what a block is for, after its
// language: `file=<path>` (written to that path), `step=<name>` (commands run line by line),
// `variant=<name>` (an alternative, applied only when asked), `merge` (a JSON file merged into
// the one already there). The tests build from these blocks, so the docs cannot drift from what
// is tested. Blocks with nothing after the language are for reading only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './node.ts';

export interface DocBlock {
  lang: string;
  /** key=value attributes; flags (a bare word) have the value ''. */
  attrs: Record<string, string>;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** Every fenced block of a Markdown file (repository-relative path). */
export const docBlocks = (doc: string): DocBlock[] => {
  const text = readFileSync(join(repoRoot, doc), 'utf8');
  const blocks: DocBlock[] = [];
  for (const match of text.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
    const [, lang, info, code] = match;
    const attrs = Object.fromEntries(
      info!
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((word) => {
          const eq = word.indexOf('=');
          return eq === -1 ? [word, ''] : [word.slice(0, eq), word.slice(eq + 1)];
        }),
    );
    blocks.push({ lang: lang!, attrs, code: code!, line: text.slice(0, match.index).split('\n').length });
  }
  return blocks;
};

/** The blocks of a document that are marked runnable (a file or a step). */
export const runnableBlocks = (doc: string): DocBlock[] => docBlocks(doc).filter((b) => 'file' in b.attrs || 'step' in b.attrs);

/** The commands of a `step=<name>` block: one per line, comments and blank lines dropped. */
export const stepCommands = (blocks: DocBlock[], step: string): string[] => {
  const block = blocks.find((b) => b.attrs.step === step);
  if (!block) throw new Error(`no block marked step=${step}`);
  return block.code
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
};
