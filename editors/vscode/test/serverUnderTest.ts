/** The server the tests drive: found the way the extension finds it. */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { nodeIsExecutable, resolveServerCommand, ServerCommand } from '../src/serverCommand';

export const EXTENSION_DIR = path.resolve(__dirname, '..', '..');
export const REPO = path.resolve(EXTENSION_DIR, '..', '..');

/** The server as the extension would find it, with the repository's venv as the "selected interpreter". */
export function findServer(): ServerCommand | undefined {
  const venvPython = path.join(REPO, '.venv', process.platform === 'win32' ? 'Scripts\\python.exe' : 'bin/python');
  const command = resolveServerCommand(
    {
      configuredPath: process.env.SMALLCODE_LSP ?? '',
      extraArgs: [],
      interpreter: fs.existsSync(venvPython) ? venvPython : undefined,
      env: process.env,
      platform: process.platform,
      home: os.homedir(),
    },
    nodeIsExecutable(),
  );
  if (command.source === 'module') {
    const probe = spawnSync(command.command, ['-c', 'import smallcode_lsp'], { stdio: 'ignore' });
    if (probe.status !== 0) {
      return undefined;
    }
  }
  return command;
}
