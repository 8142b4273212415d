import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  describeFixResult,
  describeReindexResult,
  describeTestsResult,
  fixArgument,
  LspDiagnostic,
  testsArgument,
} from '../src/commandArgs';

const URI = 'file:///work/proj/app.py';

function diag(line: number, message: string, severity?: number, character = 0): LspDiagnostic {
  const d: LspDiagnostic = { range: { start: { line, character }, end: { line, character: character + 3 } }, message };
  if (severity !== undefined) {
    d.severity = severity;
  }
  return d;
}

function at(line: number, character = 0) {
  const position = { line, character };
  return [{ start: position, end: position }, position] as const;
}

test('fix: no diagnostic on the line -> position (the server finds the nearest syntax error)', () => {
  assert.deepEqual(fixArgument(URI, ...at(4, 2), [diag(10, 'far away', 1)]), {
    uri: URI,
    position: { line: 4, character: 2 },
  });
  assert.deepEqual(fixArgument(URI, ...at(0), []), { uri: URI, position: { line: 0, character: 0 } });
});

test('fix: the diagnostic under the cursor, errors before warnings', () => {
  const warning = diag(4, 'unused import', 2);
  const error = diag(4, 'undefined name', 1, 10);
  assert.deepEqual(fixArgument(URI, ...at(4), [warning, error]), { uri: URI, diagnostic: error });
  // Missing severity counts as an error.
  const plain = diag(4, 'from a linter');
  assert.deepEqual(fixArgument(URI, ...at(4), [warning, plain]), { uri: URI, diagnostic: plain });
});

test('fix: a selection covers several lines; nearest to the cursor wins among equals', () => {
  const a = diag(2, 'a', 1);
  const b = diag(6, 'b', 1);
  const selection = { start: { line: 1, character: 0 }, end: { line: 6, character: 0 } };
  assert.deepEqual(fixArgument(URI, selection, { line: 5, character: 0 }, [a, b]), { uri: URI, diagnostic: b });
  assert.deepEqual(fixArgument(URI, selection, { line: 1, character: 0 }, [a, b]), { uri: URI, diagnostic: a });
  // Outside the selection: not a candidate.
  assert.deepEqual(fixArgument(URI, ...at(4), [a, b]), { uri: URI, position: { line: 4, character: 0 } });
  // Multi-line diagnostics that span the cursor count too.
  const span: LspDiagnostic = {
    range: { start: { line: 1, character: 0 }, end: { line: 9, character: 0 } },
    message: 'block',
  };
  assert.deepEqual(fixArgument(URI, ...at(5), [span]), { uri: URI, diagnostic: span });
});

test('generate tests: uri + cursor position', () => {
  assert.deepEqual(testsArgument(URI, { line: 7, character: 3 }), { uri: URI, position: { line: 7, character: 3 } });
});

test('fix results', () => {
  assert.deepEqual(describeFixResult({ verified: true, applied: true, title: 'Fix (verified: syntax, pytest)' }), {
    level: 'info',
    message: 'SmallCode: applied "Fix (verified: syntax, pytest)".',
  });
  assert.equal(describeFixResult({ verified: true, applied: false, title: 'Fix', attempts: 1 }).level, 'warning');
  // Nothing to fix: the server only answers, so the extension says it.
  const nothing = describeFixResult({ verified: false, applied: false, message: 'no problem to fix here: ...' });
  assert.equal(nothing.level, 'info');
  assert.match(nothing.message, /no problem to fix here/);
  // After model turns the server reports itself (window/showMessage): only log.
  assert.equal(describeFixResult({ verified: false, applied: false, attempts: 3, error: 'E' }).level, 'none');
  assert.equal(describeFixResult(null).level, 'none');
});

test('tests results', () => {
  const ok = describeTestsResult({
    kept: 2,
    applied: true,
    testFile: 'tests/test_app.py',
    summary: '2 kept, 1 dropped',
  });
  assert.deepEqual(ok, {
    level: 'info',
    message: 'SmallCode: wrote 2 verified tests to tests/test_app.py (2 kept, 1 dropped).',
  });
  const notWritten = describeTestsResult({ kept: 1, applied: false, text: 'def test_x(): pass\n', testFile: 't.py' });
  assert.equal(notWritten.level, 'warning');
  assert.equal(notWritten.text, 'def test_x(): pass\n');
  assert.equal(describeTestsResult({ kept: 0, applied: false, summary: 'nothing verified' }).level, 'none');
  assert.equal(describeTestsResult(undefined).level, 'none');
});

test('reindex results', () => {
  assert.deepEqual(describeReindexResult({ state: 'ready', files: 3, chunks: 9, lastBuild: { seconds: 0.25 } }), {
    level: 'info',
    message: 'SmallCode: indexed 3 files (9 chunks) in 0.3 s.',
  });
  assert.deepEqual(describeReindexResult({ files: 0, chunks: 0, message: 'no workspace folder to index' }), {
    level: 'info',
    message: 'SmallCode: no workspace folder to index',
  });
  assert.equal(describeReindexResult({ state: 'error', error: 'disk full' }).level, 'error');
});
