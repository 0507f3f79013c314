// Which Python runs a python3.x function: `python3.N` for Runtime python3.N when it is on PATH,
// as Lambda runs that version; else the user's `python3`, with one warning per missing version.
// The user's own interpreter, with its site-packages: that is where `pip install -r
// requirements.txt` puts what `sam build` would bundle (and Lambda's python runtimes ship boto3).
import { execFileSync } from 'node:child_process';

export interface PythonChoice {
  /** The command to spawn (a name looked up on PATH, or WS_OUTBOX_PYTHON). */
  command: string;
  /** Its version, `3.11`; undefined when no Python was found at all. */
  version?: string;
  /** False when the Runtime's version was not found and another Python stands in. */
  matches: boolean;
}

/** The version a Runtime names (`python3.12` → `3.12`); undefined for anything else. */
export const pythonVersionOf = (runtime: string): string | undefined => /^python(3\.\d+)$/.exec(runtime)?.[1];

/** `major.minor` of a python command, or undefined when it does not run. */
export const versionOfPython = (command: string): string | undefined => {
  try {
    const text = execFileSync(command, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /^(\d+\.\d+)\s*$/.exec(text)?.[1];
  } catch {
    return undefined;
  }
};

/**
 * The choice for a Runtime, given a way to ask a command's version (for tests; by default it runs
 * the command): WS_OUTBOX_PYTHON when set, else `python3.N`, else `python3`.
 */
export const choosePython = (runtime: string, versionOf: (command: string) => string | undefined, override?: string): PythonChoice => {
  const wanted = pythonVersionOf(runtime);
  for (const command of [override, wanted === undefined ? undefined : `python${wanted}`, 'python3']) {
    if (command === undefined || command === '') continue;
    const version = versionOf(command);
    if (version !== undefined) return { command, version, matches: version === wanted };
  }
  return { command: override || 'python3', matches: false };
};

const cache = new Map<string, PythonChoice>();

/** The Python for a Runtime on this machine (cached per Runtime). */
export const pythonForRuntime = (runtime: string): PythonChoice => {
  let choice = cache.get(runtime);
  if (choice === undefined) {
    choice = choosePython(runtime, versionOfPython, process.env.WS_OUTBOX_PYTHON);
    cache.set(runtime, choice);
  }
  return choice;
};

/** The warning for a Runtime whose Python is not installed (printed once per Runtime). */
export const missingPythonWarning = (runtime: string, choice: PythonChoice): string =>
  choice.version === undefined
    ? `${runtime}: no python3 found on PATH, so its functions cannot start. Install Python 3 (with boto3, which Lambda's runtime ships), or set WS_OUTBOX_PYTHON to one.`
    : `${runtime}: no python${pythonVersionOf(runtime)} found on PATH, so its functions run on ${choice.command} (Python ${choice.version}). ` +
      `Install Python ${pythonVersionOf(runtime)} to run them as Lambda does (or set WS_OUTBOX_PYTHON to one).`;
