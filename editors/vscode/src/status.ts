/**
 * Turns the server's `smallcode.status` JSON into the status-bar text and tooltip, and into the
 * document "Show status" opens. No `vscode` import. The JSON is read defensively: a newer or
 * older server may add or drop fields, and the status bar must never throw.
 */

export type ClientPhase = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusBarView {
  text: string;
  tooltip: string;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function basename(file: string): string {
  return file.split(/[\\/]/).pop() ?? file;
}

/** `qwen2.5-coder-0.5b-instruct-q4.gguf` -> `0.5B`; undefined when the name carries no size. */
export function parameterSize(file: string): string | undefined {
  const match = /(?:^|[-_.])(\d+(?:\.\d+)?)[bB](?=[-_.]|$)/.exec(basename(file).replace(/\.gguf$/i, ''));
  return match ? `${match[1]}B` : undefined;
}

/** Short model name for the status bar. */
export function modelLabel(model: unknown): string {
  const m = obj(model);
  switch (m.state) {
    case 'loading':
      return 'loading model…';
    case 'error':
      return 'no model';
    case 'ready': {
      const file = str(m.path);
      const family = str(m.family);
      if (file) {
        const size = parameterSize(file);
        if (size) {
          return size;
        }
      }
      if (family) {
        return family;
      }
      if (file) {
        const name = basename(file).replace(/\.gguf$/i, '');
        return name.length > 24 ? `${name.slice(0, 23)}…` : name;
      }
      return 'model ready';
    }
    default:
      return 'no model yet';
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `idx 123 files`, `indexing…`, `idx error`; undefined when there is nothing to index. */
export function indexLabel(index: unknown): string | undefined {
  const i = obj(index);
  const files = num(i.files) ?? 0;
  switch (i.state) {
    case 'indexing':
      return files ? `indexing (${files} files)…` : 'indexing…';
    case 'ready':
      return `idx ${plural(files, 'file')}`;
    case 'error':
      return 'idx error';
    default:
      return undefined;
  }
}

/** `local` or `cloud`: who answered the last completion. */
export function routeLabel(lastCompletion: unknown): string | undefined {
  const source = obj(lastCompletion).source;
  return source === 'local' || source === 'cloud' ? source : undefined;
}

function modelLine(model: Obj): string {
  const details = [str(model.state), str(model.family), str(model.fimTemplate) && `FIM ${String(model.fimTemplate)}`]
    .concat(num(model.contextSize) ? [`ctx ${String(model.contextSize)}`] : [])
    .filter(Boolean)
    .join(', ');
  const file = str(model.path);
  const line = `Model: ${file ?? '(none loaded)'}${details ? ` (${details})` : ''}`;
  const error = str(model.error);
  return error ? `${line}\n  error: ${error}` : line;
}

function indexLine(index: Obj): string {
  const state = str(index.state) ?? 'unknown';
  const parts = [`Index: ${state}`];
  if (num(index.files) !== undefined || num(index.chunks) !== undefined) {
    parts.push(`${plural(num(index.files) ?? 0, 'file')}, ${plural(num(index.chunks) ?? 0, 'chunk')}`);
  }
  const seconds = num(obj(index.lastBuild).seconds);
  if (seconds !== undefined) {
    parts.push(`last build ${seconds.toFixed(1)} s`);
  }
  const error = str(index.error);
  return parts.join(', ') + (error ? `\n  error: ${error}` : '');
}

function completionLine(last: Obj): string {
  const source = routeLabel(last);
  if (!source) {
    return 'Last completion: none yet';
  }
  const parts = [source];
  const seconds = num(last.seconds);
  if (seconds !== undefined) {
    parts.push(`${Math.round(seconds * 1000)} ms`);
  }
  const tokens = num(last.generatedTokens);
  if (tokens !== undefined) {
    parts.push(plural(tokens, 'token'));
  }
  return `Last completion: ${parts.join(', ')}`;
}

function cloudLine(cloud: Obj): string {
  if (!cloud.endpoint) {
    return 'Cloud: off (no endpoint; code stays on this machine)';
  }
  const circuit = str(cloud.circuit);
  const error = str(cloud.error);
  return `Cloud: endpoint set${circuit ? `, circuit ${circuit}` : ''}${error ? `, error: ${error}` : ''}`;
}

/**
 * The status-bar item, e.g. text `$(sparkle) SmallCode 0.5B · idx 123 files · local`.
 * `detail` is what the extension knows itself: the server command, or why it is not running.
 */
export function formatStatusBar(phase: ClientPhase, status: unknown, detail = ''): StatusBarView {
  const footer = detail ? `\n\nServer: ${detail}` : '';
  if (phase === 'starting') {
    return { text: '$(loading~spin) SmallCode', tooltip: `SmallCode: starting the server…${footer}` };
  }
  if (phase === 'failed' || phase === 'stopped') {
    const what = phase === 'failed' ? 'the server failed to start or crashed' : 'the server is stopped';
    return {
      text: `$(${phase === 'failed' ? 'error' : 'circle-slash'}) SmallCode`,
      tooltip: `SmallCode: ${what}.${footer}\n\nClick for details; the SmallCode output channel has the log.`,
    };
  }
  const s = obj(status);
  if (Object.keys(s).length === 0) {
    return { text: '$(sparkle) SmallCode', tooltip: `SmallCode: running${footer}` };
  }
  const model = obj(s.model);
  const icon = model.state === 'error' ? '$(warning)' : model.state === 'loading' ? '$(loading~spin)' : '$(sparkle)';
  const parts = [`SmallCode ${modelLabel(model)}`, indexLabel(s.index), routeLabel(s.lastCompletion)].filter(
    (part): part is string => !!part,
  );
  const cache = obj(s.cache);
  const lines = [
    `SmallCode${str(s.version) ? ` ${String(s.version)}` : ''}: running`,
    modelLine(model),
    indexLine(obj(s.index)),
    completionLine(obj(s.lastCompletion)),
    cloudLine(obj(s.cloud)),
  ];
  if (num(cache.hits) !== undefined) {
    lines.push(`Cache: ${String(num(cache.hits))} hits, ${String(num(cache.misses) ?? 0)} misses`);
  }
  return {
    text: `${icon} ${parts.join(' · ')}`,
    tooltip: `${lines.join('\n')}${footer}\n\nClick for the full status.`,
  };
}

/** The JSON "Show status" displays: what the extension knows, then the server's own report. */
export function statusDocument(
  client: { phase: ClientPhase; server: string; error?: string },
  status: unknown,
): string {
  const extension: Obj = { phase: client.phase, server: client.server };
  if (client.error) {
    extension.error = client.error;
  }
  return `${JSON.stringify({ extension, server: status ?? null }, null, 2)}\n`;
}
