/**
 * A small stand-in for the `vscode` module, enough for the bundled extension and
 * vscode-languageclient to activate, start the real server and run the palette commands under plain
 * node. It records what the extension does (commands, providers, messages, status-bar text) so the
 * smoke test can assert on it. Anything not modelled here is a harmless generic class or no-op.
 */

import Module from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Listener<T> = (event: T) => unknown;

export class Disposable {
  constructor(private readonly callOnDispose: () => unknown = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item?.dispose()));
  }
  dispose(): void {
    this.callOnDispose();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>, thisArg?: unknown, disposables?: Disposable[]): Disposable => {
    const bound: Listener<T> = (e) => listener.call(thisArg, e);
    this.listeners.push(bound);
    const disposable = new Disposable(() => (this.listeners = this.listeners.filter((l) => l !== bound)));
    disposables?.push(disposable);
    return disposable;
  };
  fire(event: T): void {
    for (const listener of [...this.listeners]) {
      listener(event);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
    private readonly text: string,
  ) {}
  static parse(value: string): Uri {
    const url = new URL(value);
    return new Uri(
      url.protocol.slice(0, -1),
      url.host,
      decodeURIComponent(url.pathname),
      url.search.slice(1),
      url.hash.slice(1),
      value,
    );
  }
  static file(fsPath: string): Uri {
    return Uri.parse(pathToFileURL(fsPath).href);
  }
  get fsPath(): string {
    return this.scheme === 'file' ? fileURLToPath(this.text) : this.path;
  }
  with(): Uri {
    return this;
  }
  toString(): string {
    return this.text;
  }
  toJSON(): unknown {
    return { scheme: this.scheme, path: this.path, external: this.text };
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c as number, d as number) : (b as Position);
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    super(anchor, active);
  }
}

export class CancellationError extends Error {}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {}
}

export class CodeActionKind {
  static readonly Empty = new CodeActionKind('');
  static readonly QuickFix = new CodeActionKind('quickfix');
  static readonly Refactor = new CodeActionKind('refactor');
  static readonly Source = new CodeActionKind('source');
  constructor(readonly value: string) {}
  append(part: string): CodeActionKind {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
  contains(other: CodeActionKind): boolean {
    return this.value === '' || other.value === this.value || other.value.startsWith(`${this.value}.`);
  }
  intersects(other: CodeActionKind): boolean {
    return this.contains(other) || other.contains(this);
  }
}

export class InlineCompletionItem {
  constructor(
    readonly insertText: string,
    readonly range?: Range,
  ) {}
}

export class InlineCompletionList {
  constructor(readonly items: InlineCompletionItem[]) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export const LogLevel = { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 } as const;
export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 } as const;
export const StatusBarAlignment = { Left: 1, Right: 2 } as const;

/** A text document over a fixed string (what languageclient reads for didOpen). */
export function textDocument(uri: Uri, languageId: string, text: string) {
  const lines = text.split('\n');
  return {
    uri,
    fileName: uri.fsPath,
    languageId,
    version: 1,
    isClosed: false,
    isDirty: false,
    isUntitled: uri.scheme === 'untitled',
    eol: 1,
    lineCount: lines.length,
    getText: () => text,
    lineAt: (line: number) => ({ text: lines[line] ?? '' }),
    save: async () => true,
  };
}

export type FakeDocument = ReturnType<typeof textDocument>;

/** Everything the test inspects or drives. */
export class FakeHost {
  readonly settings: Record<string, unknown> = {};
  readonly defaults: Record<string, unknown> = {};
  readonly commands = new Map<string, (...args: unknown[]) => unknown>();
  readonly providers = new Map<string, unknown[]>();
  readonly messages: { level: string; text: string }[] = [];
  readonly shown: FakeDocument[] = [];
  readonly logs: string[] = [];
  readonly contentProviders = new Map<string, { provideTextDocumentContent(uri: Uri): string }>();
  readonly statusItem = {
    text: '',
    tooltip: '' as unknown,
    name: '',
    command: '',
    backgroundColor: undefined as unknown,
    show() {},
    hide() {},
    dispose() {},
  };
  readonly onDidChangeConfiguration = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();
  readonly onDidOpenTextDocument = new EventEmitter<FakeDocument>();
  activeTextEditor: { document: FakeDocument; selection: Selection } | undefined;
  textDocuments: FakeDocument[] = [];

  constructor(readonly folder: string) {}

  /** Change settings and tell the extension, as VS Code does. */
  configure(values: Record<string, unknown>): void {
    Object.assign(this.settings, values);
    this.onDidChangeConfiguration.fire({
      affectsConfiguration: (section) =>
        Object.keys(values).some((key) => key === section || key.startsWith(`${section}.`)),
    });
  }

  private provider(kind: string) {
    return (_selector: unknown, provider: unknown) => {
      this.providers.set(kind, [...(this.providers.get(kind) ?? []), provider]);
      return new Disposable();
    };
  }

  private configuration(section?: string) {
    const full = (key: string) => (section ? `${section}.${key}` : key);
    const lookup = (key: string) => (full(key) in this.settings ? this.settings[full(key)] : this.defaults[full(key)]);
    return {
      get: (key: string, fallback?: unknown) => lookup(key) ?? fallback,
      has: (key: string) => full(key) in this.settings || full(key) in this.defaults,
      inspect: (key: string) => ({
        key: full(key),
        defaultValue: this.defaults[full(key)],
        globalValue: this.settings[full(key)],
      }),
      update: async () => undefined,
    };
  }

  private log(level: string) {
    return (message: unknown) => this.logs.push(`[${level}] ${String(message)}`);
  }

  /** The `vscode` module object. */
  module(): Record<string, unknown> {
    const event = () => new EventEmitter<unknown>().event;
    const outputChannel = (name: string) => ({
      name,
      logLevel: LogLevel.Info,
      onDidChangeLogLevel: event(),
      trace: this.log('trace'),
      debug: this.log('debug'),
      info: this.log('info'),
      warn: this.log('warn'),
      error: this.log('error'),
      append: this.log('append'),
      appendLine: this.log('line'),
      replace: () => undefined,
      clear: () => undefined,
      show: () => undefined,
      hide: () => undefined,
      dispose: () => undefined,
    });
    const message = (level: string) => async (text: string) => {
      this.messages.push({ level, text });
      return undefined;
    };
    const languages = new Proxy(
      {
        match: (selector: { language?: string }[] | { language?: string }, doc: FakeDocument) =>
          ([] as { language?: string }[]).concat(selector).some((s) => !s.language || s.language === doc.languageId)
            ? 10
            : 0,
        createDiagnosticCollection: () => ({
          set() {},
          delete() {},
          clear() {},
          dispose() {},
          forEach() {},
          get: () => [],
        }),
        getDiagnostics: () => [],
        setTextDocumentLanguage: async (doc: FakeDocument, languageId: string) => ({ ...doc, languageId }),
      } as Record<string, unknown>,
      {
        get: (target, prop: string) =>
          prop in target
            ? target[prop]
            : prop.startsWith('register')
              ? this.provider(prop.slice('register'.length))
              : undefined,
      },
    );
    const host = this;
    const api: Record<string, unknown> = {
      version: '1.91.0',
      Disposable,
      EventEmitter,
      Uri,
      Position,
      Range,
      Selection,
      CancellationError,
      CancellationTokenSource,
      ThemeColor,
      CodeActionKind,
      InlineCompletionItem,
      InlineCompletionList,
      LogLevel,
      ProgressLocation,
      StatusBarAlignment,
      env: { language: 'en', appName: 'Fake Code', openExternal: async () => true },
      extensions: { getExtension: () => undefined },
      commands: {
        registerCommand: (id: string, handler: (...args: unknown[]) => unknown) => {
          if (this.commands.has(id)) {
            throw new Error(`command '${id}' already exists`);
          }
          this.commands.set(id, handler);
          return new Disposable(() => this.commands.delete(id));
        },
        executeCommand: async (id: string, ...args: unknown[]) => this.commands.get(id)?.(...args),
      },
      languages,
      window: {
        state: { focused: true },
        get activeTextEditor() {
          return host.activeTextEditor;
        },
        visibleTextEditors: [],
        tabGroups: { all: [], onDidChangeTabs: event(), onDidChangeTabGroups: event() },
        onDidChangeActiveTextEditor: event(),
        onDidChangeVisibleTextEditors: event(),
        createOutputChannel: outputChannel,
        createStatusBarItem: () => this.statusItem,
        showInformationMessage: message('info'),
        showWarningMessage: message('warning'),
        showErrorMessage: message('error'),
        withProgress: async (_options: unknown, task: (progress: unknown, token: unknown) => unknown) =>
          task({ report() {} }, new CancellationTokenSource().token),
        showTextDocument: async (doc: FakeDocument) => {
          this.shown.push(doc);
          return { document: doc };
        },
      },
      workspace: {
        get workspaceFolders() {
          return [{ uri: Uri.file(host.folder), name: path.basename(host.folder), index: 0 }];
        },
        get textDocuments() {
          return host.textDocuments;
        },
        notebookDocuments: [],
        getConfiguration: (section?: string) => this.configuration(section),
        onDidChangeConfiguration: this.onDidChangeConfiguration.event,
        onDidOpenTextDocument: this.onDidOpenTextDocument.event,
        onDidChangeTextDocument: event(),
        onDidCloseTextDocument: event(),
        onDidSaveTextDocument: event(),
        onWillSaveTextDocument: event(),
        onDidChangeWorkspaceFolders: event(),
        onDidCreateFiles: event(),
        onDidRenameFiles: event(),
        onDidDeleteFiles: event(),
        onWillCreateFiles: event(),
        onWillRenameFiles: event(),
        onWillDeleteFiles: event(),
        onDidOpenNotebookDocument: event(),
        onDidChangeNotebookDocument: event(),
        onDidSaveNotebookDocument: event(),
        onDidCloseNotebookDocument: event(),
        createFileSystemWatcher: () => ({
          onDidCreate: event(),
          onDidChange: event(),
          onDidDelete: event(),
          dispose() {},
        }),
        applyEdit: async () => true,
        registerTextDocumentContentProvider: (
          scheme: string,
          provider: { provideTextDocumentContent(uri: Uri): string },
        ) => {
          this.contentProviders.set(scheme, provider);
          return new Disposable();
        },
        openTextDocument: async (target: Uri | { language: string; content: string }) => {
          if (target instanceof Uri) {
            const text = this.contentProviders.get(target.scheme)?.provideTextDocumentContent(target) ?? '';
            return textDocument(target, 'plaintext', text);
          }
          return textDocument(Uri.parse('untitled:Untitled-1'), target.language, target.content);
        },
      },
    };
    // Enums and classes nobody here looks at (CompletionItemKind, SymbolKind, TabInputText, ...):
    // a class whose unknown statics read as 0, so `class X extends vscode.Y` and `vscode.Y.Z` both work.
    const generic = new Map<string, unknown>();
    return new Proxy(api, {
      get: (target, prop: string) => {
        if (prop in target || typeof prop !== 'string') {
          return target[prop];
        }
        if (!generic.has(prop)) {
          const cls = class {
            constructor(...args: unknown[]) {
              Object.assign(this, { args });
            }
          };
          generic.set(prop, new Proxy(cls, { get: (c, p) => (p in c ? (c as never)[p] : 0) }));
        }
        return generic.get(prop);
      },
    });
  }

  /** Make `require('vscode')` return this host's module (for the bundle under test). */
  install(): () => void {
    const fakePath = path.join(__dirname, '__fake_vscode__.js');
    const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
    const original = loader._resolveFilename;
    loader._resolveFilename = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? fakePath : original.call(this, request, ...rest);
    };
    const cached = new Module(fakePath);
    cached.filename = fakePath;
    cached.loaded = true;
    cached.exports = this.module();
    require.cache[fakePath] = cached;
    return () => {
      loader._resolveFilename = original;
      delete require.cache[fakePath];
    };
  }
}
