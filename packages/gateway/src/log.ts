// The gateway's console output: one line per event, function output prefixed with the function
// and instance, and LATE SENDs impossible to miss. `quiet` keeps tests silent except for errors.
import { styleText } from 'node:util';
import { withDefaults } from 'ws-outbox/util';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A line the function printed. */
  fn(prefix: string, line: string): void;
  /** A block that must be seen (LATE SEND). */
  loud(lines: string[]): void;
}

export interface LoggerOptions {
  quiet: boolean;
  write: (text: string) => void;
}

const defaults: LoggerOptions = { quiet: false, write: (text) => process.stderr.write(text) };

const color = (format: Parameters<typeof styleText>[0], text: string) => styleText(format, text, { stream: process.stderr });

export const createLogger = (options: Partial<LoggerOptions> = {}): Logger => {
  const { quiet, write } = withDefaults(defaults, options);
  const line = (text: string) => write(`${text}\n`);
  return {
    info: (m) => {
      if (!quiet) line(m);
    },
    warn: (m) => {
      if (!quiet) line(color('yellow', `warning: ${m}`));
    },
    error: (m) => line(color('red', m)),
    fn: (prefix, m) => {
      if (!quiet) line(`${color('dim', `[${prefix}]`)} ${m}`);
    },
    loud: (lines) => {
      if (quiet) return;
      const bar = '!'.repeat(78);
      line(color(['red', 'bold'], [bar, ...lines.map((l) => `!! ${l}`), bar].join('\n')));
    },
  };
};
