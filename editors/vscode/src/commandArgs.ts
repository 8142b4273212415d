/**
 * Arguments for the server's `smallcode.fix` / `smallcode.generateTests` commands, built from the
 * active editor, and the one-line messages their results turn into. No `vscode` import: positions
 * and diagnostics arrive in LSP shape (0-based lines, LSP severities 1 = Error ... 4 = Hint).
 */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface LspDiagnostic {
  range: Range;
  message: string | { kind: string; value: string };
  severity?: number;
  source?: string;
  code?: unknown;
  data?: unknown;
}

export type FixArgument = { uri: string; diagnostic: LspDiagnostic } | { uri: string; position: Position };

/**
 * `{uri, diagnostic}` for the most relevant diagnostic on the selected lines (errors first, then the
 * nearest to the cursor), so the fix targets what the user sees; `{uri, position}` otherwise, and
 * the server looks for the nearest syntax error itself.
 */
export function fixArgument(
  uri: string,
  selection: Range,
  cursor: Position,
  diagnostics: readonly LspDiagnostic[],
): FixArgument {
  const first = Math.min(selection.start.line, selection.end.line, cursor.line);
  const last = Math.max(selection.start.line, selection.end.line, cursor.line);
  const candidates = diagnostics.filter((d) => d.range.start.line <= last && d.range.end.line >= first);
  if (candidates.length === 0) {
    return { uri, position: { line: cursor.line, character: cursor.character } };
  }
  const rank = (d: LspDiagnostic): [number, number, number] => [
    d.severity ?? 1, // the protocol says: missing severity is up to the client; treat it as an error
    Math.abs(d.range.start.line - cursor.line),
    Math.abs(d.range.start.character - cursor.character),
  ];
  const best = [...candidates].sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  })[0];
  return { uri, diagnostic: best };
}

/** `smallcode.generateTests` takes the function or class around the cursor. */
export function testsArgument(uri: string, cursor: Position): { uri: string; position: Position } {
  return { uri, position: { line: cursor.line, character: cursor.character } };
}

export type Level = 'info' | 'warning' | 'error' | 'none';

export interface Outcome {
  /** `none`: the server has already told the user (window/showMessage); only log it. */
  level: Level;
  message: string;
  /** Verified test code the server could not write into the workspace: offer it in an editor. */
  text?: string;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

export function describeFixResult(result: unknown): Outcome {
  const r = obj(result);
  const title = typeof r.title === 'string' ? r.title : 'Fix';
  if (r.applied === true) {
    return { level: 'info', message: `SmallCode: applied "${title}".` };
  }
  if (r.verified === true) {
    return { level: 'warning', message: `SmallCode: "${title}" was verified but VS Code did not apply the edit.` };
  }
  // A result without attempts never reached the model (e.g. nothing to fix here): the server only
  // answers; everything after a model turn it reports itself with window/showMessage.
  if (typeof r.message === 'string' && r.attempts === undefined) {
    return { level: 'info', message: `SmallCode: ${r.message}` };
  }
  return { level: 'none', message: `SmallCode: no fix applied (${JSON.stringify(r.error ?? r.message ?? '')})` };
}

export function describeTestsResult(result: unknown): Outcome {
  const r = obj(result);
  const kept = typeof r.kept === 'number' ? r.kept : 0;
  const file = typeof r.testFile === 'string' ? r.testFile : 'the test file';
  const summary = typeof r.summary === 'string' ? ` (${r.summary})` : '';
  if (r.applied === true) {
    return {
      level: 'info',
      message: `SmallCode: wrote ${kept} verified test${kept === 1 ? '' : 's'} to ${file}${summary}.`,
    };
  }
  if (typeof r.text === 'string' && r.text) {
    return {
      level: 'warning',
      message: `SmallCode: ${kept} test${kept === 1 ? '' : 's'} passed but could not be written to ${file}; opened them in an editor.`,
      text: r.text,
    };
  }
  // Nothing verified or an error: the server has said so with window/showMessage.
  return {
    level: 'none',
    message: `SmallCode: no tests written${summary || (r.message ? ` (${String(r.message)})` : '')}`,
  };
}

export function describeReindexResult(result: unknown): Outcome {
  const r = obj(result);
  if (typeof r.message === 'string') {
    return { level: 'info', message: `SmallCode: ${r.message}` };
  }
  const files = typeof r.files === 'number' ? r.files : 0;
  const chunks = typeof r.chunks === 'number' ? r.chunks : 0;
  const seconds = obj(r.lastBuild).seconds;
  const took = typeof seconds === 'number' ? ` in ${seconds.toFixed(1)} s` : '';
  if (r.state === 'error') {
    return { level: 'error', message: `SmallCode: indexing failed: ${String(r.error ?? 'unknown error')}` };
  }
  return { level: 'info', message: `SmallCode: indexed ${files} files (${chunks} chunks)${took}.` };
}
