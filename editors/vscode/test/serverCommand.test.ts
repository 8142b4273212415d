import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import {
  describeCommand,
  expandPath,
  findOnPath,
  IsExecutable,
  nodeIsExecutable,
  ResolveInput,
  resolveServerCommand,
  sameCommand,
} from '../src/serverCommand';

/** A fake file system: the set of executable files. */
function files(...paths: string[]): IsExecutable {
  const set = new Set(paths);
  return (file) => set.has(file);
}

function posix(overrides: Partial<ResolveInput> = {}): ResolveInput {
  return {
    configuredPath: '',
    extraArgs: [],
    env: { PATH: '/usr/local/bin:/usr/bin' },
    platform: 'linux',
    home: '/home/ada',
    workspaceFolder: '/work/proj',
    ...overrides,
  };
}

function windows(overrides: Partial<ResolveInput> = {}): ResolveInput {
  return {
    configuredPath: '',
    extraArgs: [],
    env: { Path: 'C:\\Tools;C:\\Python312\\Scripts', PATHEXT: '.COM;.EXE;.BAT;.CMD' },
    platform: 'win32',
    home: 'C:\\Users\\ada',
    workspaceFolder: 'C:\\work\\proj',
    ...overrides,
  };
}

test('the setting wins over everything else', () => {
  const fsFake = files('/usr/bin/smallcode-lsp', '/venv/bin/smallcode-lsp');
  const cmd = resolveServerCommand(
    posix({
      configuredPath: '/opt/sc/bin/smallcode-lsp',
      interpreter: '/venv/bin/python',
      extraArgs: ['--log-level', 'DEBUG'],
    }),
    fsFake,
  );
  assert.deepEqual(cmd, { command: '/opt/sc/bin/smallcode-lsp', args: ['--log-level', 'DEBUG'], source: 'setting' });
});

test('setting paths: ~, ${workspaceFolder}, relative paths and bare names', () => {
  const none = files('/usr/bin/my-lsp');
  assert.equal(
    resolveServerCommand(posix({ configuredPath: '~/bin/smallcode-lsp' }), none).command,
    '/home/ada/bin/smallcode-lsp',
  );
  assert.equal(
    resolveServerCommand(posix({ configuredPath: '${workspaceFolder}/.venv/bin/smallcode-lsp' }), none).command,
    '/work/proj/.venv/bin/smallcode-lsp',
  );
  assert.equal(
    resolveServerCommand(posix({ configuredPath: '.venv/bin/smallcode-lsp' }), none).command,
    '/work/proj/.venv/bin/smallcode-lsp',
  );
  // A bare name is looked up on PATH, or handed to the OS as is when not found.
  assert.equal(resolveServerCommand(posix({ configuredPath: 'my-lsp' }), none).command, '/usr/bin/my-lsp');
  assert.equal(resolveServerCommand(posix({ configuredPath: 'other-lsp' }), none).command, 'other-lsp');
  assert.equal(expandPath('  ${userHome}/x ', posix()), '/home/ada/x');
  assert.equal(expandPath('~', posix()), '/home/ada');
});

test('a blank setting means "find it"', () => {
  const cmd = resolveServerCommand(posix({ configuredPath: '   ' }), files('/usr/bin/smallcode-lsp'));
  assert.equal(cmd.source, 'path');
});

test('the selected interpreter’s smallcode-lsp beats the one on PATH', () => {
  const cmd = resolveServerCommand(
    posix({ interpreter: '/work/proj/.venv/bin/python' }),
    files('/usr/bin/smallcode-lsp', '/work/proj/.venv/bin/smallcode-lsp'),
  );
  assert.deepEqual(cmd, { command: '/work/proj/.venv/bin/smallcode-lsp', args: [], source: 'interpreter' });
});

test('an interpreter without the script falls through to PATH', () => {
  const cmd = resolveServerCommand(
    posix({ interpreter: '/usr/bin/python3', env: { PATH: '/nope:/home/ada/.local/bin' } }),
    files('/home/ada/.local/bin/smallcode-lsp'),
  );
  assert.deepEqual(cmd, { command: '/home/ada/.local/bin/smallcode-lsp', args: [], source: 'path' });
});

test('PATH order matters and empty entries are skipped', () => {
  const input = posix({ env: { PATH: ':/a:/b' } });
  assert.equal(findOnPath('smallcode-lsp', input, files('/a/smallcode-lsp', '/b/smallcode-lsp')), '/a/smallcode-lsp');
  assert.equal(findOnPath('smallcode-lsp', input, files('/b/smallcode-lsp')), '/b/smallcode-lsp');
  assert.equal(findOnPath('smallcode-lsp', posix({ env: {} }), files('/b/smallcode-lsp')), undefined);
});

test('nothing found: run the module with the selected interpreter, else python3', () => {
  assert.deepEqual(resolveServerCommand(posix({ extraArgs: ['--stdio'] }), files()), {
    command: 'python3',
    args: ['-m', 'smallcode_lsp', '--stdio'],
    source: 'module',
  });
  assert.deepEqual(resolveServerCommand(posix({ interpreter: '/venv/bin/python' }), files()), {
    command: '/venv/bin/python',
    args: ['-m', 'smallcode_lsp'],
    source: 'module',
  });
});

test('Windows: PATHEXT, Scripts folders, `Path` spelling and python fallback', () => {
  assert.equal(
    resolveServerCommand(windows(), files('C:\\Python312\\Scripts\\smallcode-lsp.exe')).command,
    'C:\\Python312\\Scripts\\smallcode-lsp.exe',
  );
  // venv: python.exe and the scripts share Scripts\.
  assert.deepEqual(
    resolveServerCommand(
      windows({ interpreter: 'C:\\work\\proj\\.venv\\Scripts\\python.exe' }),
      files('C:\\work\\proj\\.venv\\Scripts\\smallcode-lsp.exe'),
    ),
    { command: 'C:\\work\\proj\\.venv\\Scripts\\smallcode-lsp.exe', args: [], source: 'interpreter' },
  );
  // Base install / conda: python.exe at the root, scripts in Scripts\.
  assert.equal(
    resolveServerCommand(
      windows({ interpreter: 'C:\\Miniconda3\\python.exe' }),
      files('C:\\Miniconda3\\Scripts\\smallcode-lsp.exe'),
    ).source,
    'interpreter',
  );
  assert.equal(resolveServerCommand(windows(), files()).command, 'python');
  assert.equal(
    resolveServerCommand(windows({ configuredPath: '.venv\\Scripts\\smallcode-lsp.exe' }), files()).command,
    'C:\\work\\proj\\.venv\\Scripts\\smallcode-lsp.exe',
  );
});

test('describeCommand and sameCommand', () => {
  const a = { command: '/x y/smallcode-lsp', args: ['--log-level', 'DEBUG'], source: 'setting' as const };
  assert.equal(describeCommand(a), '"/x y/smallcode-lsp" --log-level DEBUG (from smallcode.server.path)');
  assert.ok(sameCommand(a, { ...a, source: 'path' }));
  assert.ok(!sameCommand(a, { ...a, args: [] }));
  assert.ok(!sameCommand(a, undefined));
});

test('nodeIsExecutable: real files, permissions and directories', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smallcode-'));
  try {
    const script = path.join(dir, 'smallcode-lsp');
    const plain = path.join(dir, 'notes.txt');
    fs.writeFileSync(script, '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(plain, 'x', { mode: 0o644 });
    const isExecutable = nodeIsExecutable('linux');
    assert.ok(isExecutable(script));
    assert.ok(!isExecutable(dir));
    assert.ok(!isExecutable(path.join(dir, 'missing')));
    if (process.platform !== 'win32') {
      assert.ok(!isExecutable(plain)); // no x bit: not even root may run it
    }
    assert.equal(resolveServerCommand({ ...posix(), env: { PATH: dir } }, isExecutable).command, script);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
