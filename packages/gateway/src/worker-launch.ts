// How a function pool starts one worker process for a function's Runtime: which program (the Node
// for nodejsN.x running runtime.ts, the Python for python3.N running python/bootstrap.py), what it
// adds to the instance's environment, and where its task root is. Both speak the same IPC
// messages (worker-protocol.ts) over Node's IPC channel, as JSON.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionModel } from './app-model.ts';
import { handlerFile } from './handler-loader.ts';
import type { Logger } from './log.ts';
import { missingNodeWarning, nodeForRuntime } from './node-versions.ts';
import { isPythonRuntime, pythonTaskRoot } from './python/handler.ts';
import { missingPythonWarning, pythonForRuntime } from './python/versions.ts';
import { dependenciesVariable, runtimeSdkVariable } from './runtime-sdk.ts';
import { installedDependenciesOf } from './function-code.ts';
import { siblingModule } from './sibling.ts';
import { runtimeFor, runtimeSdkFolder } from './worker-files.ts';
import { caVariable } from './worker-protocol.ts';

export const runtimePath = siblingModule('runtime', import.meta.url);

/** bootstrap.py: beside the sources, and copied beside the compiled files (scripts/build-lib.ts). */
export const pythonBootstrapPath = fileURLToPath(new URL('./python/bootstrap.py', import.meta.url));

export interface StartOptions {
  /** The instance's environment, as the pool makes it for every runtime. */
  env: Record<string, string>;
  taskRoot: string;
  memoryMb: number;
  /** Cap the V8 heap at the function's MemorySize (Node only). */
  enforceMemory: boolean;
}

export interface WorkerLauncher {
  /** The folder Lambda unpacks the code into, from the Handler's module file. */
  taskRoot(codeFile: string, handler: string): string;
  start(options: StartOptions): ChildProcess;
}

const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];

// The folder Lambda unpacks Node code into: the code file is the Handler's module
// (`<root>/<module>.<ext>`, the module possibly in a subfolder: `src/app.handler`).
export const nodeTaskRoot = (codeFile: string, handler: string): string => {
  const module = handler.slice(0, handler.lastIndexOf('.'));
  const withoutExtension = codeFile.replace(/\.[cm]?js$/, '');
  if (withoutExtension.endsWith(`/${module}`)) {
    const root = withoutExtension.slice(0, withoutExtension.length - module.length).replace(/\/$/, '') || '/';
    if (handlerFile(root, handler) !== undefined) return root;
  }
  return dirname(codeFile);
};

// A missing Node major or Python version is said once per gateway process, not once per instance.
const warned = new Set<string>();
const warnOnce = (log: Logger, key: string, line: string): void => {
  if (warned.has(key)) return;
  warned.add(key);
  log.warn(line);
};

const nodeLauncher = async (fn: FunctionModel, log: Logger): Promise<WorkerLauncher> => {
  const node = nodeForRuntime(fn.runtime, [dirname(fn.spec.entry)]);
  if (!node.matches && /^nodejs\d+\.x$/.test(fn.runtime)) warnOnce(log, fn.runtime, missingNodeWarning(fn.runtime, node.major));
  const script = await runtimeFor(runtimePath, node.major);
  return {
    taskRoot: (codeFile, handler) => nodeTaskRoot(resolvePath(codeFile), handler),
    start: ({ env, taskRoot, memoryMb, enforceMemory }) => {
      const sdk = runtimeSdkFolder();
      const dependencies = installedDependenciesOf(taskRoot);
      return fork(script, [], {
        execPath: node.execPath,
        env: {
          ...env,
          // After the function's own node_modules: the dependencies the gateway installed for it,
          // then the runtime's AWS SDK v3 (runtime-sdk.ts). NODE_PATH for require, a hook for import.
          NODE_PATH: [dependencies, sdk].filter(Boolean).join(':'),
          ...(sdk === undefined ? {} : { [runtimeSdkVariable]: sdk }),
          ...(dependencies === undefined ? {} : { [dependenciesVariable]: dependencies }),
        },
        execArgv: enforceMemory ? [`--max-old-space-size=${Math.max(64, Math.floor(memoryMb * 0.9))}`] : [],
        stdio,
        serialization: 'json',
      });
    },
  };
};

/**
 * The Python worker's environment: the instance's without Node's variables, the local CA's path
 * under a private name (bootstrap.py reads and removes it, as it does the egress routes), output
 * unbuffered so that every line reaches the log as it is printed, and no .pyc files in the code.
 */
export const pythonEnvironment = (env: Record<string, string>): Record<string, string> => {
  const ca = env.NODE_EXTRA_CA_CERTS;
  const kept = Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('NODE_')));
  return { ...kept, ...(ca === undefined ? {} : { [caVariable]: ca }), PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
};

const pythonLauncher = (fn: FunctionModel, log: Logger): WorkerLauncher => {
  const python = pythonForRuntime(fn.runtime);
  if (!python.matches) warnOnce(log, fn.runtime, missingPythonWarning(fn.runtime, python));
  return {
    taskRoot: (codeFile, handler) => pythonTaskRoot(codeFile, handler),
    start: ({ env, taskRoot }) =>
      spawn(python.command, ['-u', pythonBootstrapPath], { cwd: taskRoot, env: pythonEnvironment(env), stdio, serialization: 'json' }),
  };
};

/** The launcher for a function's Runtime. */
export const launcherFor = (fn: FunctionModel, log: Logger): Promise<WorkerLauncher> =>
  isPythonRuntime(fn.runtime) ? Promise.resolve(pythonLauncher(fn, log)) : nodeLauncher(fn, log);
