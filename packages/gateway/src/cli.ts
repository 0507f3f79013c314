#!/usr/bin/env node
// The `ws-outbox` command: `dev`, `invoke` and `build` on the SAM template of the project it runs
// in. This repository's `npm run dev`, `npm run invoke` and `npm run build` run this same file
// (from source); an installed package runs its compiled copy.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { buildUsage, runBuild } from './build.ts';

const commands = {
  dev: {
    summary: 'the local gateway: WebSocket API, functions, @connections API and DynamoDB on 127.0.0.1',
    usage: async () => (await import('./dev.ts')).devUsage,
    // The gateway keeps the process alive until SIGINT/SIGTERM; nothing to return.
    run: async (args: string[]) => {
      await (await import('./dev.ts')).runDev(args);
      return undefined;
    },
  },
  invoke: {
    summary: 'run one function once with an event file, like sam local invoke, without Docker',
    usage: async () => (await import('./invoke.ts')).invokeUsage,
    run: async (args: string[]) => (await import('./invoke.ts')).runInvoke(args),
  },
  build: {
    summary: "esbuild bundles of the template's functions into their CodeUri folders",
    usage: async () => buildUsage,
    run: async (args: string[]) => {
      await runBuild(args);
      return 0;
    },
  },
} satisfies Record<string, { summary: string; usage: () => Promise<string>; run: (args: string[]) => Promise<number | undefined> }>;

type Command = keyof typeof commands;

const overview = () =>
  [
    'usage: ws-outbox <command> [options]    (ws-outbox <command> --help for its options)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(7)} ${c.summary}`),
    '',
    'Every command reads the template SAM CLI would (template.yaml, .yml or .json in the working folder) or --template <file>. `dev` and `invoke` run each',
    "function's code as the template deploys it: the CodeUri as it is, SAM's esbuild or makefile build, or",
    "this project's own bundle (handlers/<last folder of its CodeUri>.ts, or Metadata.BuildEntry), which `build` makes.",
  ].join('\n');

/**
 * Runs one command line (without `node` and the script). Resolves with the exit code, or undefined
 * for `dev`, which keeps running. Errors the user must fix are printed as one line, no stack.
 */
export const runCli = async (argv: string[]): Promise<number | undefined> => {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(commands, name)) {
    console.error(`ws-outbox: unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    return 2;
  }
  const command = commands[name as Command];
  try {
    return await command.run(args);
  } catch (error) {
    const e = error as Error & { code?: string };
    // parseArgs' errors (an unknown option, a missing value) come with the command's usage.
    const usage = e.code?.startsWith('ERR_PARSE_ARGS') ? `\n${await command.usage()}` : '';
    console.error(`ws-outbox ${name}: ${e.message}${usage}`);
    return name === 'invoke' ? 2 : 1;
  }
};

// Run only when executed (the bin, npm scripts), never when imported (build.mjs, tests).
if (import.meta.main ?? (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)) {
  const code = await runCli(process.argv.slice(2));
  if (code !== undefined) process.exit(code);
}
