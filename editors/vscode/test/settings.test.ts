import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import {
  contributedKeys,
  EDITOR_ONLY_KEYS,
  explicitValue,
  Inspected,
  nest,
  RESTART_SETTINGS,
  ServerSettings,
  serverSettingKeys,
  toJson,
} from '../src/settings';

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));

test('contributed keys come from every configuration block, without the prefix', () => {
  const keys = contributedKeys(manifest);
  assert.ok(keys.includes('model.path'));
  assert.ok(keys.includes('agent.python'));
  for (const key of EDITOR_ONLY_KEYS) {
    assert.ok(keys.includes(key), `${key} is contributed`);
  }
  assert.deepEqual(
    contributedKeys({ contributes: { configuration: { properties: { 'smallcode.a.b': {}, 'other.x': {} } } } }),
    ['a.b'],
  );
  assert.deepEqual(contributedKeys({}), []);
});

test('editor-only keys are never sent to the server', () => {
  const keys = serverSettingKeys(manifest);
  for (const key of EDITOR_ONLY_KEYS) {
    assert.ok(!keys.includes(key));
  }
  assert.ok(keys.includes('cloud.endpoint'));
  for (const key of RESTART_SETTINGS) {
    assert.ok(key.startsWith('smallcode.server.'));
  }
});

test('explicit value: folder beats workspace beats user; defaults do not count', () => {
  assert.equal(explicitValue(undefined), undefined);
  assert.equal(explicitValue({ defaultValue: 5 }), undefined);
  assert.equal(explicitValue({ defaultValue: 5, globalValue: 6 }), 6);
  assert.equal(explicitValue({ globalValue: 6, workspaceValue: 7 }), 7);
  assert.equal(explicitValue({ globalValue: 6, workspaceValue: 7, workspaceFolderValue: 8 }), 8);
  // An explicit null in the workspace overrides a user value: it is a choice, not an absence.
  assert.equal(explicitValue({ globalValue: '/m.gguf', workspaceValue: null }), null);
});

test('nest builds the shape config.flatten accepts', () => {
  assert.deepEqual(nest({ 'model.path': '/m.gguf', 'model.contextSize': 2048, 'index.exclude': ['a/**'] }), {
    model: { path: '/m.gguf', contextSize: 2048 },
    index: { exclude: ['a/**'] },
  });
  assert.deepEqual(nest({}), {});
});

test('toJson copies and maps undefined to null', () => {
  const frozen = Object.freeze({ a: Object.freeze([1, 2]) });
  const copy = toJson(frozen) as { a: number[] };
  copy.a.push(3);
  assert.deepEqual(frozen.a, [1, 2]);
  assert.equal(toJson(undefined), null);
});

test('only explicit values are sent, so pyproject.toml [tool.smallcode] is not overridden', () => {
  const settings = new ServerSettings(['model.path', 'model.contextSize', 'cloud.neverSend']);
  const user: Record<string, Inspected> = {
    'model.path': { defaultValue: null },
    'model.contextSize': { defaultValue: 4096, globalValue: 2048 },
    'cloud.neverSend': { defaultValue: [], workspaceValue: ['secrets/**'] },
  };
  assert.deepEqual(
    settings.payload((key) => user[key]),
    {
      model: { contextSize: 2048 },
      cloud: { neverSend: ['secrets/**'] },
    },
  );
});

test('a setting removed during the session is reset to its default on the server', () => {
  const settings = new ServerSettings(['model.contextSize', 'model.threads']);
  const state: Record<string, Inspected> = {
    'model.contextSize': { defaultValue: 4096, globalValue: 2048 },
    'model.threads': { defaultValue: 0 },
  };
  assert.deepEqual(
    settings.payload((key) => state[key]),
    { model: { contextSize: 2048 } },
  );
  state['model.contextSize'] = { defaultValue: 4096 };
  assert.deepEqual(
    settings.payload((key) => state[key]),
    { model: { contextSize: 4096 } },
  );
  // Never-set keys stay out.
  assert.deepEqual(Object.keys((settings.payload((key) => state[key]) as { model: object }).model), ['contextSize']);
});

test('nothing set: an empty object (the server keeps defaults and pyproject values)', () => {
  const settings = new ServerSettings(serverSettingKeys(manifest));
  assert.deepEqual(
    settings.payload(() => ({ defaultValue: 1 })),
    {},
  );
});
