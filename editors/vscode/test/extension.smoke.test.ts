/**
 * The packaged bundle (dist/extension.js) activated in a fake VS Code (fakeVscode.ts) against the
 * real server: commands register without collisions, ghost-text and status work end to end, settings
 * reach the server, and deactivation stops it. VS Code itself cannot be downloaded here; this is the
 * nearest thing. Skipped without a build or without a server.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { FakeHost, InlineCompletionList, Position, Selection, textDocument, Uri } from './fakeVscode';
import { EXTENSION_DIR, findServer } from './serverUnderTest';

const BUNDLE = path.join(EXTENSION_DIR, 'dist', 'extension.js');
const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));

let failed = (): boolean => false;

/** A fresh copy of the bundle, bound to the fake `vscode` installed last. */
function loadBundle(): { activate(c: unknown): Promise<void>; deactivate(): Promise<void> } {
  delete require.cache[BUNDLE];
  return require(BUNDLE);
}

async function eventually<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) {
      return value;
    }
    if (failed()) {
      throw new Error(`the client failed while waiting for ${what}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the bundle activates in a fake VS Code and drives the real server', { timeout: 180_000 }, async (t) => {
  const server = findServer();
  if (!fs.existsSync(BUNDLE) || !server) {
    t.skip(!server ? 'smallcode-lsp not found' : 'no dist/extension.js (run `npm run build` first)');
    return;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'smallcode-smoke-'));
  const workspace = path.join(root, 'proj');
  fs.mkdirSync(workspace);
  const file = path.join(workspace, 'app.py');
  const source = 'def add(a, b):\n    return a + b\n\n\ndef twice(x):\n    return add(x, x)\n';
  fs.writeFileSync(file, source);
  const savedCache = process.env.SMALLCODE_CACHE_DIR;
  process.env.SMALLCODE_CACHE_DIR = path.join(root, 'cache'); // inherited by the server process

  const host = new FakeHost(workspace);
  for (const block of manifest.contributes.configuration) {
    for (const [name, prop] of Object.entries<{ default: unknown }>(block.properties)) {
      host.defaults[name] = prop.default;
    }
  }
  Object.assign(host.settings, {
    'smallcode.server.path': server.command,
    'smallcode.server.args': server.args,
    'smallcode.model.path': path.join(root, 'missing.gguf'), // no model: nothing heavy loads
    'smallcode.model.contextSize': 2048,
    'smallcode.trace.server': 'messages',
  });
  const uninstall = host.install();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const extension = loadBundle();
  const context = { subscriptions: [] as { dispose(): void }[], extension: { packageJSON: manifest } };
  const statusText = () => host.statusItem.text;
  failed = () => statusText().startsWith('$(error)');

  try {
    await extension.activate(context);
    for (const id of ['fix', 'generateTests', 'status', 'reindex', 'restart', 'showLogs']) {
      assert.ok(host.commands.has(`smallcode.client.${id}`), `palette command smallcode.client.${id}`);
    }
    // languageclient registers the server's own command ids next to ours, without a collision.
    await eventually(
      'server commands',
      () => host.commands.has('smallcode.fix') && host.commands.has('smallcode.status'),
    );
    await eventually('status bar with the index', () => /idx 1 file/.test(statusText()), 30_000);
    assert.equal(statusText(), '$(warning) SmallCode no model · idx 1 file');
    // smallcode.trace.server works without touching the channel's log level (see TraceChannel).
    assert.ok(host.logs.some((line) => line.startsWith("[info] Sending request 'initialize")));
    assert.match(String(host.statusItem.tooltip), /missing\.gguf/);

    // Ghost text goes through the 3.18 inline-completion feature; completion lists stay local.
    const inline = host.providers.get('InlineCompletionItemProvider')?.[0] as {
      provideInlineCompletionItems(...args: unknown[]): Promise<unknown>;
    };
    assert.ok(inline, 'an inline completion provider is registered');
    const completion = host.providers.get('CompletionItemProvider')?.[0] as {
      provideCompletionItems(...args: unknown[]): Promise<unknown>;
    };
    const doc = textDocument(Uri.file(file), 'python', source);
    host.textDocuments.push(doc);
    host.onDidOpenTextDocument.fire(doc);
    const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const list = await inline.provideInlineCompletionItems(doc, new Position(5, 4), { triggerKind: 0 }, token);
    assert.ok(list instanceof InlineCompletionList, `inline result ${JSON.stringify(list)}`);
    assert.deepEqual(list.items, []); // no model here, so no suggestion, but the round trip worked
    if (completion) {
      assert.equal(await completion.provideCompletionItems(doc, new Position(5, 4), {}, token), undefined);
    }

    // Show status: a JSON document with the extension's view and the server's report.
    await host.commands.get('smallcode.client.status')!();
    const shown = host.shown.at(-1)!;
    const report = JSON.parse(shown.getText());
    assert.equal(report.extension.phase, 'running');
    assert.match(report.extension.server, /from smallcode\.server\.path/);
    assert.equal(report.server.index.files, 1);
    assert.equal(report.server.settings['model.contextSize'], 2048, 'explicit settings reached the server');

    // A settings change is pushed to the server.
    host.configure({ 'smallcode.completion.maxTokens': 32 });
    let maxTokens: unknown;
    for (let i = 0; i < 50 && maxTokens !== 32; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await host.commands.get('smallcode.client.status')!();
      maxTokens = JSON.parse(host.shown.at(-1)!.getText()).server.settings['completion.maxTokens'];
    }
    assert.equal(maxTokens, 32);

    // Reindex and Fix this report through notifications.
    await host.commands.get('smallcode.client.reindex')!();
    assert.match(host.messages.at(-1)!.text, /indexed 1 files/);
    host.activeTextEditor = { document: doc, selection: new Selection(new Position(1, 4), new Position(1, 4)) };
    await host.commands.get('smallcode.client.fix')!();
    assert.match(host.messages.at(-1)!.text, /no problem to fix here/);

    // Generate tests on a non-Python file: the server's refusal surfaces as an error message.
    host.activeTextEditor = {
      document: textDocument(Uri.file(path.join(workspace, 'x.js')), 'javascript', 'let x = 1\n'),
      selection: new Selection(new Position(0, 0), new Position(0, 0)),
    };
    await host.commands.get('smallcode.client.generateTests')!();
    assert.equal(host.messages.at(-1)!.level, 'error');
  } catch (error) {
    console.error(host.logs.join('\n'));
    throw error;
  } finally {
    await extension.deactivate();
    for (const disposable of context.subscriptions) {
      disposable.dispose();
    }
    uninstall();
    if (savedCache === undefined) {
      delete process.env.SMALLCODE_CACHE_DIR;
    } else {
      process.env.SMALLCODE_CACHE_DIR = savedCache;
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.equal(statusText(), '$(circle-slash) SmallCode', 'stopped after deactivate');
});

test('a server that cannot start: error status, a helpful message, commands still answer', async (t) => {
  if (!fs.existsSync(BUNDLE)) {
    t.skip('no dist/extension.js (run `npm run build` first)');
    return;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'smallcode-smoke-'));
  const host = new FakeHost(root);
  host.settings['smallcode.server.path'] = path.join(root, 'no-such-smallcode-lsp');
  failed = () => false;
  const uninstall = host.install();
  const extension = loadBundle();
  const context = { subscriptions: [] as { dispose(): void }[], extension: { packageJSON: manifest } };
  try {
    await extension.activate(context);
    await eventually('the error status', () => host.statusItem.text === '$(error) SmallCode', 10_000);
    assert.match(String(host.statusItem.tooltip), /failed to start/);
    // vscode-languageclient reports the spawn error itself; ours says what to do about it.
    const error = await eventually(
      'our error message',
      () => host.messages.find((m) => m.level === 'error' && m.text.startsWith('SmallCode: could not start')),
      5000,
    );
    assert.match(error.text, /no-such-smallcode-lsp.*smallcode\.server\.path/);
    await host.commands.get('smallcode.client.status')!();
    assert.equal(JSON.parse(host.shown.at(-1)!.getText()).extension.phase, 'failed');
    await host.commands.get('smallcode.client.reindex')!();
    assert.match(host.messages.at(-1)!.text, /the server is not running/);
  } finally {
    await extension.deactivate();
    for (const disposable of context.subscriptions) {
      disposable.dispose();
    }
    uninstall();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
