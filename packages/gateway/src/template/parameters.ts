// CLI parsing: `--parameter-overrides` in both of SAM's forms.

/**
 * `--parameter-overrides` as SAM CLI takes it: `Key=Value` pairs separated by spaces, values
 * optionally quoted (`Stage="dev" Name='a b'`), or CloudFormation's
 * `ParameterKey=Key,ParameterValue=Value` form. Several arguments are read in order.
 */
export const parseParameterOverrides = (args: string | string[]): Record<string, string> => {
  const result: Record<string, string> = {};
  const text = Array.isArray(args) ? args.join(' ') : args;
  // A token: runs of unquoted non-space text and quoted strings, glued together.
  const tokens = text.match(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g) ?? [];
  const unquote = (value: string) =>
    value.replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_, dq: string | undefined, sq: string | undefined) =>
      dq !== undefined ? dq.replace(/\\(.)/g, '$1') : sq!,
    );
  for (const token of tokens) {
    const long = /^ParameterKey=([^,]+),ParameterValue=(.*)$/s.exec(token);
    const [key, value] = long ? [long[1]!, long[2]!] : [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)];
    if (!token.includes('=') || !/^[A-Za-z0-9]+$/.test(unquote(key))) {
      throw new Error(`--parameter-overrides: expected Key=Value (or ParameterKey=Key,ParameterValue=Value), got ${JSON.stringify(token)}`);
    }
    result[unquote(key)] = unquote(value);
  }
  return result;
};

/**
 * SAM CLI's `--parameter-overrides A=1 B=2` takes every word up to the next option: splits them
 * out of `args` as one `--parameter-overrides` value each, so a strict option parser (parseArgs)
 * sees `--parameter-overrides A=1 --parameter-overrides B=2` and not a stray positional `B=2`.
 */
export const gatherParameterOverrides = (args: string[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg !== '--parameter-overrides') {
      out.push(arg);
      continue;
    }
    let taken = 0;
    while (i + 1 < args.length && !args[i + 1]!.startsWith('--')) {
      out.push('--parameter-overrides', args[++i]!);
      taken++;
    }
    // No value: left for the parser, which says that the option needs one.
    if (taken === 0) out.push(arg);
  }
  return out;
};
