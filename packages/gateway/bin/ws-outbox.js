#!/usr/bin/env node
// The `ws-outbox` bin. Plain JavaScript that any Node parses, so that on an unsupported Node it
// says so and exits non-zero (before, on Node 20, a module of the gateway failed to load and the
// command printed nothing and exited 0). Then it runs the compiled CLI (lib/, an installed
// package) or, in a checkout of the repository, the TypeScript sources with the condition that
// resolves the library to its sources too.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const required = 24;
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= required)) {
  process.stderr.write(
    `ws-outbox: Node ${required} or newer is required (Lambda's nodejs${required}.x); this is Node ${process.versions.node}.\n` +
      `  Install Node ${required} (nvm install ${required}, or your package manager), or pin it for the project's\n` +
      `  npm scripts with \`npm i -D node@${required}\` and run \`npx ws-outbox\` through an npm script.\n`,
  );
  process.exit(1);
}

const compiled = fileURLToPath(new URL('../lib/cli.js', import.meta.url));
const fail = (error) => {
  process.stderr.write(`ws-outbox: ${error?.stack ? error.stack : String(error)}\n`);
  process.exit(1);
};

if (existsSync(compiled)) {
  try {
    const { runCli } = await import(pathToFileURL(compiled).href);
    const code = await runCli(process.argv.slice(2));
    if (code !== undefined) process.exit(code);
  } catch (error) {
    fail(error);
  }
} else {
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=ws-outbox-source', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', fail);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
