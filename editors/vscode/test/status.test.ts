import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatStatusBar, indexLabel, modelLabel, parameterSize, routeLabel, statusDocument } from '../src/status';

/** Shaped like smallcode_lsp/server/features/commands.py `status()`. */
const STATUS = {
  version: '0.1.0',
  model: {
    state: 'ready',
    error: null,
    path: '/home/ada/.cache/smallcode/qwen2.5-coder-0.5b-instruct-q4.gguf',
    family: 'qwen2',
    fimTemplate: 'qwen',
    contextSize: 4096,
    draftPath: null,
    agentContext: 8192,
  },
  index: {
    state: 'ready',
    error: null,
    roots: ['/work/proj'],
    files: 123,
    chunks: 456,
    lastBuild: { files: 123, chunks: 456, parsedFiles: 3, reusedFiles: 120, seconds: 1.234 },
    watching: true,
  },
  requests: {},
  cache: { hits: 3, misses: 10 },
  promptReuse: { promptTokens: 0, reusedPromptTokens: 0, reevaluatedFraction: null },
  lastCompletion: { source: 'local', seconds: 0.1234, generatedTokens: 12, meanLogprob: -0.2 },
  agent: { sandbox: 'not started yet (starts with the first fix)' },
  cloud: { endpoint: false, circuit: null, error: null },
  settings: { 'model.path': null },
};

test('status bar text: model size, index files, last route', () => {
  const view = formatStatusBar('running', STATUS);
  assert.equal(view.text, '$(sparkle) SmallCode 0.5B · idx 123 files · local');
  assert.match(view.tooltip, /^SmallCode 0\.1\.0: running/);
  assert.match(view.tooltip, /Model: \/home\/ada\/.*q4\.gguf \(ready, qwen2, FIM qwen, ctx 4096\)/);
  assert.match(view.tooltip, /Index: ready, 123 files, 456 chunks, last build 1\.2 s/);
  assert.match(view.tooltip, /Last completion: local, 123 ms, 12 tokens/);
  assert.match(view.tooltip, /Cloud: off/);
  assert.match(view.tooltip, /Cache: 3 hits, 10 misses/);
  assert.match(view.tooltip, /Click for the full status\.$/);
});

test('cloud route, indexing, loading and broken models', () => {
  const cloud = {
    ...STATUS,
    lastCompletion: { source: 'cloud' },
    cloud: { endpoint: true, circuit: 'closed', error: null },
  };
  assert.match(formatStatusBar('running', cloud).text, / · cloud$/);
  assert.match(formatStatusBar('running', cloud).tooltip, /Cloud: endpoint set, circuit closed/);

  const indexing = { ...STATUS, index: { state: 'indexing', files: 0 }, lastCompletion: {} };
  assert.equal(formatStatusBar('running', indexing).text, '$(sparkle) SmallCode 0.5B · indexing…');

  const loading = { ...STATUS, model: { state: 'loading' } };
  assert.equal(
    formatStatusBar('running', loading).text,
    '$(loading~spin) SmallCode loading model… · idx 123 files · local',
  );

  const broken = { ...STATUS, model: { state: 'error', error: 'no such file: /m.gguf', path: null } };
  const view = formatStatusBar('running', broken);
  assert.equal(view.text, '$(warning) SmallCode no model · idx 123 files · local');
  assert.match(view.tooltip, /error: no such file: \/m\.gguf/);
});

test('client phases other than running', () => {
  assert.equal(formatStatusBar('starting', undefined).text, '$(loading~spin) SmallCode');
  const failed = formatStatusBar('failed', STATUS, 'spawn smallcode-lsp ENOENT');
  assert.equal(failed.text, '$(error) SmallCode');
  assert.match(failed.tooltip, /failed to start or crashed/);
  assert.match(failed.tooltip, /Server: spawn smallcode-lsp ENOENT/);
  assert.equal(formatStatusBar('stopped', undefined).text, '$(circle-slash) SmallCode');
  // Running but not polled yet.
  assert.equal(formatStatusBar('running', undefined, '/usr/bin/smallcode-lsp').text, '$(sparkle) SmallCode');
});

test('garbage never throws', () => {
  for (const junk of [null, 42, 'x', [], { model: 'x', index: [1], lastCompletion: null, cloud: 7, cache: 'no' }]) {
    const view = formatStatusBar('running', junk);
    assert.match(view.text, /SmallCode/);
  }
});

test('model labels', () => {
  assert.equal(parameterSize('qwen2.5-coder-0.5b-instruct-q4.gguf'), '0.5B');
  assert.equal(parameterSize('/m/starcoder2-3b-Q4_K_M.gguf'), '3B');
  assert.equal(parameterSize('C:\\m\\deepseek-coder-1.3B-base.Q8_0.gguf'), '1.3B');
  assert.equal(parameterSize('codegemma-7b.gguf'), '7B');
  assert.equal(parameterSize('tiny.gguf'), undefined);
  assert.equal(parameterSize('qwen2.5-coder.gguf'), undefined);
  assert.equal(modelLabel({ state: 'ready', path: '/m/tiny.gguf', family: 'llama' }), 'llama');
  assert.equal(modelLabel({ state: 'ready', path: '/m/tiny.gguf' }), 'tiny');
  assert.equal(
    modelLabel({ state: 'ready', path: '/m/a-very-long-model-file-name-here.gguf' }),
    'a-very-long-model-file-…',
  );
  assert.equal(modelLabel({ state: 'unloaded' }), 'no model yet');
  assert.equal(modelLabel(undefined), 'no model yet');
});

test('index and route labels', () => {
  assert.equal(indexLabel({ state: 'ready', files: 1 }), 'idx 1 file');
  assert.equal(indexLabel({ state: 'indexing', files: 40 }), 'indexing (40 files)…');
  assert.equal(indexLabel({ state: 'error' }), 'idx error');
  assert.equal(indexLabel({ state: 'idle' }), undefined); // no workspace folder
  assert.equal(routeLabel({ source: 'cloud' }), 'cloud');
  assert.equal(routeLabel({ source: 'elsewhere' }), undefined);
  assert.equal(routeLabel({}), undefined);
});

test('status document: the extension’s view, then the server’s JSON', () => {
  const text = statusDocument({ phase: 'running', server: '/usr/bin/smallcode-lsp (found on PATH)' }, STATUS);
  const parsed = JSON.parse(text);
  assert.deepEqual(parsed.extension, { phase: 'running', server: '/usr/bin/smallcode-lsp (found on PATH)' });
  assert.deepEqual(parsed.server, STATUS);
  assert.ok(text.endsWith('}\n'));
  assert.deepEqual(JSON.parse(statusDocument({ phase: 'failed', server: 'x', error: 'ENOENT' }, undefined)), {
    extension: { phase: 'failed', server: 'x', error: 'ENOENT' },
    server: null,
  });
});
