// The Python runtime's pure parts: the Handler's module and file (Lambda's python rules), the task
// root, the Python chosen for a Runtime, the worker's environment, and which Runtimes the
// template readers run or skip.
import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPythonRuntime, pythonHandlerFile, pythonModuleFiles, pythonModuleOf, pythonTaskRoot } from '../../src/python/handler.ts';
import { choosePython, missingPythonWarning, pythonVersionOf } from '../../src/python/versions.ts';
import { functionsOf, layerNoticesOf, skippedFunctionsOf } from '../../src/template/functions.ts';
import { parseTemplate } from '../../src/template/load.ts';
import { pythonEnvironment } from '../../src/worker-launch.ts';

describe('the Handler', () => {
  test('its module, as Python imports it: slashes become dots, the last dot names the function', () => {
    expect(pythonModuleOf('app.lambda_handler')).toBe('app');
    expect(pythonModuleOf('pkg/sub.module.func')).toBe('pkg.sub.module');
    expect(pythonModuleOf('src/handlers/connect.handler')).toBe('src.handlers.connect');
    expect(pythonModuleFiles('pkg/sub.module.func')).toEqual(['pkg/sub/module.py', 'pkg/sub/module/__init__.py']);
  });

  test('its file under the task root (a module, else a package) and the task root back from the file', () => {
    const root = mkdtempSync(join(tmpdir(), 'py-handler-'));
    try {
      mkdirSync(join(root, 'pkg', 'sub'), { recursive: true });
      writeFileSync(join(root, 'pkg', 'sub', 'module.py'), '');
      mkdirSync(join(root, 'lib', 'service'), { recursive: true });
      writeFileSync(join(root, 'lib', 'service', '__init__.py'), '');
      expect(pythonHandlerFile(root, 'pkg/sub.module.func')).toBe(join(root, 'pkg', 'sub', 'module.py'));
      expect(pythonHandlerFile(root, 'lib.service.handler')).toBe(join(root, 'lib', 'service', '__init__.py'));
      expect(pythonHandlerFile(root, 'app.handler')).toBeUndefined();
      expect(pythonTaskRoot(join(root, 'pkg', 'sub', 'module.py'), 'pkg/sub.module.func')).toBe(root);
      expect(pythonTaskRoot(join(root, 'lib', 'service', '__init__.py'), 'lib.service.handler')).toBe(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the Python for a Runtime', () => {
  const installed = (versions: Record<string, string>) => (command: string) => versions[command];

  test('python3.N when it is installed; python3 standing in otherwise (not a match); WS_OUTBOX_PYTHON first', () => {
    expect(pythonVersionOf('python3.12')).toBe('3.12');
    expect(pythonVersionOf('nodejs22.x')).toBeUndefined();
    expect(choosePython('python3.12', installed({ 'python3.12': '3.12', python3: '3.11' }))).toEqual({ command: 'python3.12', version: '3.12', matches: true });
    expect(choosePython('python3.12', installed({ python3: '3.11' }))).toEqual({ command: 'python3', version: '3.11', matches: false });
    expect(choosePython('python3.11', installed({ python3: '3.11' }))).toEqual({ command: 'python3', version: '3.11', matches: true });
    expect(choosePython('python3.12', installed({ '/opt/py/bin/python': '3.12', python3: '3.11' }), '/opt/py/bin/python')).toEqual({
      command: '/opt/py/bin/python',
      version: '3.12',
      matches: true,
    });
    expect(choosePython('python3.12', installed({}))).toEqual({ command: 'python3', matches: false });
  });

  test('the warning names the missing version and what stands in', () => {
    expect(missingPythonWarning('python3.13', { command: 'python3', version: '3.11', matches: false })).toContain(
      'python3.13: no python3.13 found on PATH, so its functions run on python3 (Python 3.11)',
    );
    expect(missingPythonWarning('python3.13', { command: 'python3', matches: false })).toContain('no python3 found on PATH');
  });
});

test("the worker's environment: no Node variables, the CA under its private name, unbuffered, no .pyc", () => {
  expect(pythonEnvironment({ PATH: '/bin', NODE_EXTRA_CA_CERTS: '/tmp/ca.pem', NODE_PATH: '/x', NODE_OPTIONS: '--foo', AWS_REGION: 'us-east-1' })).toEqual({
    PATH: '/bin',
    AWS_REGION: 'us-east-1',
    WS_OUTBOX_CA_FILE: '/tmp/ca.pem',
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  });
});

describe('the template readers', () => {
  const template = parseTemplate(`
Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: src/, Handler: pkg/app.handler, Runtime: python3.12, Layers: [!Ref Boto3Layer] }
  Java:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: java/, Handler: a.B::handle, Runtime: java21, Layers: [arn:aws:lambda:us-east-1:1:layer:x:1] }
  Custom:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: go/, Handler: bootstrap, Runtime: provided.al2023 }
  Dotnet:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: cs/, Handler: A::B::C, Runtime: dotnet8 }
`);

  test('python3.x functions run, their entry the module file or package under CodeUri; other Runtimes are skipped with their line', () => {
    const [py, ...others] = functionsOf(template, { root: '/app' });
    expect(others).toEqual([]);
    expect(py).toMatchObject({
      logicalId: 'Py',
      runtime: 'python3.12',
      entryCandidates: ['/app/src/pkg/app.py', '/app/src/pkg/app/__init__.py'],
      entryFrom: 'CodeUri',
      ownBuild: false,
    });
    expect(skippedFunctionsOf(template).map((s) => s.why)).toEqual([
      'Java runs on java21; the local gateway runs Node.js and Python functions only: its routes and event sources do nothing locally',
      'Custom runs on provided.al2023; the local gateway runs Node.js and Python functions only: its routes and event sources do nothing locally',
      'Dotnet runs on dotnet8; the local gateway runs Node.js and Python functions only: its routes and event sources do nothing locally',
    ]);
    // Layers are not loaded: said once for a function that runs (not for a skipped one).
    expect(layerNoticesOf(template)).toEqual([expect.stringMatching(/^Py has Layers, which the local gateway does not load: /)]);
    expect(isPythonRuntime('python3.9')).toBe(true);
    expect(isPythonRuntime('python2.7')).toBe(false);
  });
});
