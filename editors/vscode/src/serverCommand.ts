/**
 * Which process to start as the language server. No `vscode` import: the file system and the
 * environment come in as arguments, so the tests can fake them.
 *
 * Order: the `smallcode.server.path` setting > `smallcode-lsp` next to the Python interpreter the
 * user selected in the Python extension > `smallcode-lsp` on PATH > `<python> -m smallcode_lsp`.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

export const SERVER_SCRIPT = 'smallcode-lsp';
export const SERVER_MODULE = 'smallcode_lsp';

export type CommandSource = 'setting' | 'interpreter' | 'path' | 'module';

export interface ServerCommand {
  command: string;
  args: string[];
  source: CommandSource;
}

export interface ResolveInput {
  /** `smallcode.server.path`; empty means "find it". */
  configuredPath: string;
  /** `smallcode.server.args`, appended in every case. */
  extraArgs: readonly string[];
  /** Absolute path of the interpreter selected in the Python extension, when there is one. */
  interpreter?: string | undefined;
  /** First workspace folder: relative setting paths and `${workspaceFolder}` resolve against it. */
  workspaceFolder?: string | undefined;
  home?: string | undefined;
  env: Record<string, string | undefined>;
  platform: string;
}

/** The one file-system question asked: is this an existing file we may execute? */
export type IsExecutable = (file: string) => boolean;

export function nodeIsExecutable(platform: string = process.platform): IsExecutable {
  return (file) => {
    try {
      if (!fs.statSync(file).isFile()) {
        return false;
      }
      if (platform !== 'win32') {
        fs.accessSync(file, fs.constants.X_OK);
      }
      return true;
    } catch {
      return false;
    }
  };
}

function pathApi(platform: string): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** `foo` -> [`foo`] on POSIX, [`foo.exe`, `foo.cmd`, ...] (PATHEXT) on Windows. */
function executableNames(name: string, input: ResolveInput): string[] {
  if (input.platform !== 'win32') {
    return [name];
  }
  const pathext = input.env.PATHEXT ?? input.env.Pathext ?? '.COM;.EXE;.BAT;.CMD';
  const extensions = pathext.split(';').filter(Boolean);
  const hasExtension = extensions.some((ext) => name.toLowerCase().endsWith(ext.toLowerCase()));
  return hasExtension ? [name] : extensions.map((ext) => name + ext.toLowerCase());
}

/** First `name` on PATH that is an executable file, or undefined. */
export function findOnPath(name: string, input: ResolveInput, isExecutable: IsExecutable): string | undefined {
  const api = pathApi(input.platform);
  // Windows spells it `Path`; environment lookups there are case-insensitive but `env` here is a copy.
  const searchPath = input.env.PATH ?? input.env.Path ?? '';
  for (const dir of searchPath.split(api.delimiter)) {
    if (!dir) {
      continue;
    }
    for (const candidate of executableNames(name, input)) {
      const file = api.join(dir, candidate);
      if (isExecutable(file)) {
        return file;
      }
    }
  }
  return undefined;
}

/** `~`, `${userHome}` and `${workspaceFolder}` in a configured path, as VS Code users expect. */
export function expandPath(raw: string, input: ResolveInput): string {
  let value = raw.trim();
  if (input.home) {
    value = value.replace(/\$\{userHome\}/g, input.home);
    if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) {
      value = input.home + value.slice(1);
    }
  }
  if (input.workspaceFolder) {
    value = value.replace(/\$\{workspaceFolder\}/g, input.workspaceFolder);
  }
  return value;
}

function fromSetting(input: ResolveInput, isExecutable: IsExecutable): string {
  const api = pathApi(input.platform);
  const value = expandPath(input.configuredPath, input);
  if (api.isAbsolute(value)) {
    return value;
  }
  if (value.includes('/') || value.includes(api.sep)) {
    // A relative path such as `.venv/bin/smallcode-lsp` means "in this project".
    return input.workspaceFolder ? api.resolve(input.workspaceFolder, value) : value;
  }
  // A bare name: look it up now so the log shows which file runs; else let the OS search.
  return findOnPath(value, input, isExecutable) ?? value;
}

/** Where the interpreter's environment keeps its console scripts. */
function nextToInterpreter(interpreter: string, input: ResolveInput, isExecutable: IsExecutable): string | undefined {
  const api = pathApi(input.platform);
  const dir = api.dirname(interpreter);
  // venvs keep python and scripts together (bin/ or Scripts\); a Windows base install keeps
  // python.exe at the root and its scripts in Scripts\.
  const dirs = input.platform === 'win32' ? [dir, api.join(dir, 'Scripts')] : [dir];
  for (const candidateDir of dirs) {
    for (const name of executableNames(SERVER_SCRIPT, input)) {
      const file = api.join(candidateDir, name);
      if (isExecutable(file)) {
        return file;
      }
    }
  }
  return undefined;
}

export function resolveServerCommand(input: ResolveInput, isExecutable: IsExecutable): ServerCommand {
  const extra = [...input.extraArgs];
  if (input.configuredPath.trim()) {
    return { command: fromSetting(input, isExecutable), args: extra, source: 'setting' };
  }
  if (input.interpreter) {
    const script = nextToInterpreter(input.interpreter, input, isExecutable);
    if (script) {
      return { command: script, args: extra, source: 'interpreter' };
    }
  }
  const onPath = findOnPath(SERVER_SCRIPT, input, isExecutable);
  if (onPath) {
    return { command: onPath, args: extra, source: 'path' };
  }
  // Last resort: the package may be importable without its script on PATH (e.g. `pip install --user`
  // with ~/.local/bin not on PATH). Prefer the selected interpreter, whose environment it is likely in.
  const python = input.interpreter ?? (input.platform === 'win32' ? 'python' : 'python3');
  return { command: python, args: ['-m', SERVER_MODULE, ...extra], source: 'module' };
}

const SOURCE_LABEL: Record<CommandSource, string> = {
  setting: 'from smallcode.server.path',
  interpreter: 'next to the selected Python interpreter',
  path: 'found on PATH',
  module: 'no smallcode-lsp found: running the module',
};

/** One line for the log and the status tooltip, e.g. `/venv/bin/smallcode-lsp (found on PATH)`. */
export function describeCommand(command: ServerCommand): string {
  const quoted = [command.command, ...command.args].map((part) => (/\s/.test(part) ? JSON.stringify(part) : part));
  return `${quoted.join(' ')} (${SOURCE_LABEL[command.source]})`;
}

/** Whether two resolutions start the same process (a restart is needed otherwise). */
export function sameCommand(a: ServerCommand | undefined, b: ServerCommand | undefined): boolean {
  return !!a && !!b && a.command === b.command && a.args.join('\0') === b.args.join('\0');
}
