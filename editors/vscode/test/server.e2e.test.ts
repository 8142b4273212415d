/**
 * The real server, driven the way the extension drives it: started with the command
 * `resolveServerCommand` picks, initialised with `ServerSettings` payloads, polled for status and
 * formatted for the status bar. Skipped when no smallcode-lsp can be found (e.g. node-only CI).
 */

import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { Inspected, JsonObject, ServerSettings, serverSettingKeys } from '../src/settings';
import { formatStatusBar } from '../src/status';
import { EXTENSION_DIR, findServer } from './serverUnderTest';

const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));

type Message = { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };

/** Just enough JSON-RPC over stdio (Content-Length framing) to play the editor. */
class Rpc {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly notifications: Message[] = [];

  constructor(
    private readonly proc: ChildProcess,
    private readonly onRequest: (method: string, params: unknown) => unknown,
  ) {
    proc.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        return;
      }
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) {
        return;
      }
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as Message);
    }
  }

  private dispatch(message: Message): void {
    if (message.method !== undefined && message.id !== undefined) {
      this.write({ jsonrpc: '2.0', id: message.id, result: this.onRequest(message.method, message.params) ?? null });
    } else if (message.method !== undefined) {
      this.notifications.push(message);
    } else if (message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) {
        waiter?.reject(new Error(message.error.message));
      } else {
        waiter?.resolve(message.result);
      }
    }
  }

  private write(message: object): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.proc.stdin!.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  request<T = unknown>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.write({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.write({ jsonrpc: '2.0', method, params });
  }
}

type Status = { settings: Record<string, unknown>; model: { state: string }; index: { state: string } };

async function until(rpc: Rpc, done: (s: Status) => boolean, timeoutMs = 60_000): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await rpc.request<Status>('workspace/executeCommand', {
      command: 'smallcode.status',
      arguments: [],
    });
    if (done(status) || Date.now() > deadline) {
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function flatten(nested: JsonObject, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(nested)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      Object.assign(out, flatten(value, `${prefix}${key}.`));
    } else {
      out[`${prefix}${key}`] = value;
    }
  }
  return out;
}

/** Contributed defaults by dotted key. */
function defaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const block of manifest.contributes.configuration) {
    for (const [name, prop] of Object.entries<{ default: unknown }>(block.properties)) {
      out[name.slice('smallcode.'.length)] = prop.default;
    }
  }
  return out;
}

test(
  'the real server accepts every setting the extension sends and reports status',
  { timeout: 120_000 },
  async (t) => {
    const server = findServer();
    if (!server) {
      t.skip('smallcode-lsp not found (no venv, nothing on PATH, module not importable)');
      return;
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'smallcode-e2e-'));
    const workspace = path.join(root, 'proj');
    fs.mkdirSync(workspace);
    const file = path.join(workspace, 'app.py');
    fs.writeFileSync(file, 'def add(a, b):\n    return a + b\n\n\ndef twice(x):\n    return add(x, x)\n');

    // Every server setting set explicitly (to its contributed default, except a few), as a user would.
    const values: Record<string, unknown> = {
      ...defaults(),
      'model.path': path.join(root, 'missing.gguf'), // no model: nothing heavy loads
      'model.contextSize': 2048,
      'index.exclude': ['build/**'],
      'cloud.neverSend': ['secrets/**'],
    };
    const settings = new ServerSettings(serverSettingKeys(manifest));
    const inspect = (key: string): Inspected => ({ defaultValue: defaults()[key], globalValue: values[key] });
    const payload = settings.payload(inspect);
    assert.ok(!('server' in payload) && !('trace' in payload), 'editor-only keys are not sent');

    const proc = spawn(server.command, server.args, {
      cwd: workspace,
      env: { ...process.env, SMALLCODE_CACHE_DIR: path.join(root, 'cache') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const pulls: unknown[] = [];
    const rpc = new Rpc(proc, (method, params) => {
      if (method === 'workspace/configuration') {
        pulls.push(params);
        return [settings.payload(inspect)]; // what the extension's middleware answers
      }
      return null; // workDoneProgress/create, registerCapability
    });
    t.after(() => {
      proc.kill();
      fs.rmSync(root, { recursive: true, force: true });
    });

    try {
      const init = await rpc.request<{ capabilities: Record<string, unknown> }>('initialize', {
        processId: process.pid,
        rootUri: pathToFileURL(workspace).href,
        workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'proj' }],
        capabilities: {
          workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
          window: { workDoneProgress: true },
          textDocument: { inlineCompletion: { dynamicRegistration: true } },
        },
        initializationOptions: payload,
      });
      assert.ok(init.capabilities.inlineCompletionProvider, 'the server offers textDocument/inlineCompletion');
      const commands = (init.capabilities.executeCommandProvider as { commands: string[] }).commands;
      for (const id of ['smallcode.fix', 'smallcode.generateTests', 'smallcode.status', 'smallcode.reindex']) {
        assert.ok(commands.includes(id), `server command ${id}`);
      }
      rpc.notify('initialized', {});

      const status = await until(rpc, (s) => s.index.state === 'ready' && ['error', 'ready'].includes(s.model.state));
      assert.equal(pulls.length, 1, 'the server pulled the smallcode section once');
      for (const [key, value] of Object.entries(flatten(payload))) {
        assert.deepEqual(status.settings[key], value, `server's ${key}`);
      }
      const complaints = rpc.notifications
        .filter((n) => n.method === 'window/showMessage' || n.method === 'window/logMessage')
        .map((n) => String((n.params as { message: string }).message))
        .filter((m) => /unknown setting|keeping the previous value|expected/.test(m));
      assert.deepEqual(complaints, [], 'the server rejected none of the settings');
      assert.equal(formatStatusBar('running', status).text, '$(warning) SmallCode no model · idx 1 file');

      // A change, pushed the way the extension pushes it.
      rpc.notify('workspace/didChangeConfiguration', { settings: { smallcode: { completion: { maxTokens: 32 } } } });
      const changed = await until(rpc, (s) => s.settings['completion.maxTokens'] === 32, 10_000);
      assert.equal(changed.settings['completion.maxTokens'], 32);
      assert.equal(changed.settings['model.contextSize'], 2048, 'other settings are kept');

      // The LSP 3.18 request the inline-completion provider sends (no model here: no items).
      const uri = pathToFileURL(file).href;
      rpc.notify('textDocument/didOpen', {
        textDocument: { uri, languageId: 'python', version: 1, text: fs.readFileSync(file, 'utf8') },
      });
      const inline = await rpc.request<{ items: unknown[] }>('textDocument/inlineCompletion', {
        textDocument: { uri },
        position: { line: 5, character: 4 },
        context: { triggerKind: 1 },
      });
      assert.deepEqual(inline.items, []);

      await rpc.request('shutdown', null);
      rpc.notify('exit', null);
    } catch (error) {
      console.error(`server stderr:\n${stderr}`);
      throw error;
    }
  },
);
