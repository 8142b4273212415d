/**
 * VS Code wiring only: the decisions live in vscode-free modules (settings, serverCommand, status,
 * commandArgs) that run under unit tests. The server does the work; this file starts it, feeds it
 * settings and turns palette commands into `workspace/executeCommand` requests.
 */

import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';

import {
  describeFixResult,
  describeReindexResult,
  describeTestsResult,
  fixArgument,
  Outcome,
  testsArgument,
} from './commandArgs';
import { ServerSettings, RESTART_SETTINGS, SECTION, serverSettingKeys } from './settings';
import { describeCommand, nodeIsExecutable, resolveServerCommand, sameCommand, ServerCommand } from './serverCommand';
import { ClientPhase, formatStatusBar, statusDocument } from './status';

/** LSP language ids the server understands (smallcode_lsp/index/languages.py `_LSP_IDS`). */
const LANGUAGES = [
  'python',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'cuda-cpp',
];

/** Server-side command ids (the contract in ARCHITECTURE.md). */
const SERVER = {
  fix: 'smallcode.fix',
  generateTests: 'smallcode.generateTests',
  status: 'smallcode.status',
  reindex: 'smallcode.reindex',
} as const;

/**
 * Palette command ids. The server lists its commands in `executeCommandProvider`, and
 * vscode-languageclient registers a VS Code command for each of those ids (the code actions "Fix this
 * (SmallCode)" and "Generate tests (SmallCode)" rely on that). Registering `smallcode.fix` here as well
 * would fail with "command already exists", and those auto-registered commands only exist while the
 * server runs and forward whatever arguments they get (none, from the palette). So the palette gets
 * its own ids: they exist from activation on, build the arguments from the active editor, report the
 * result, and say clearly when the server is not running.
 */
const CLIENT = {
  fix: 'smallcode.client.fix',
  generateTests: 'smallcode.client.generateTests',
  status: 'smallcode.client.status',
  reindex: 'smallcode.client.reindex',
  restart: 'smallcode.client.restart',
  showLogs: 'smallcode.client.showLogs',
} as const;

const STATUS_URI = vscode.Uri.parse('smallcode-status:/SmallCode%20status.json');
const POLL_MS = 5000;

/** The subset of the `ms-python.python` extension API used here (it is optional). */
interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(env: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] | undefined };
  };
}

function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    Promise.resolve(promise),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms)),
  ]);
}

function errorText(error: unknown): string {
  return error instanceof ResponseError || error instanceof Error ? error.message : String(error);
}

/**
 * vscode-languageclient 10 only traces LSP traffic when its trace channel's log level is Trace. This
 * adapter makes `smallcode.trace.server` work as users expect (off / messages / verbose) without
 * touching the log level: it claims Trace while the setting asks for tracing, and writes the trace
 * into the main SmallCode channel.
 */
class TraceChannel implements vscode.LogOutputChannel {
  private readonly changed = new vscode.EventEmitter<vscode.LogLevel>();
  private readonly forward: vscode.Disposable;
  readonly onDidChangeLogLevel = this.changed.event;
  readonly name: string;

  constructor(private readonly main: vscode.LogOutputChannel) {
    this.name = main.name;
    // Setting the channel's level to Trace in the Output view still works too.
    this.forward = main.onDidChangeLogLevel(() => this.settingChanged());
  }

  private get enabled(): boolean {
    return vscode.workspace.getConfiguration(SECTION).get<string>('trace.server', 'off') !== 'off';
  }

  get logLevel(): vscode.LogLevel {
    return this.enabled ? vscode.LogLevel.Trace : this.main.logLevel;
  }

  settingChanged(): void {
    this.changed.fire(this.logLevel);
  }

  trace(message: string): void {
    if (this.enabled) {
      this.main.info(message);
    } else {
      this.main.trace(message);
    }
  }
  debug(message: string, ...args: unknown[]): void {
    this.main.debug(message, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    this.main.info(message, ...args);
  }
  warn(message: string, ...args: unknown[]): void {
    this.main.warn(message, ...args);
  }
  error(error: string | Error, ...args: unknown[]): void {
    this.main.error(error, ...args);
  }
  append(value: string): void {
    this.main.append(value);
  }
  appendLine(value: string): void {
    this.main.appendLine(value);
  }
  replace(value: string): void {
    this.main.replace(value);
  }
  clear(): void {
    this.main.clear();
  }
  show(columnOrPreserve?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserve === 'boolean' || columnOrPreserve === undefined) {
      this.main.show(columnOrPreserve);
    } else {
      this.main.show(columnOrPreserve, preserveFocus);
    }
  }
  hide(): void {
    this.main.hide();
  }
  dispose(): void {
    this.forward.dispose();
    this.changed.dispose();
  }
}

class SmallCodeExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private command: ServerCommand | undefined;
  private phase: ClientPhase = 'stopped';
  private lastError: string | undefined;
  private status: unknown;
  private polling = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly settings: ServerSettings;
  private readonly output = vscode.window.createOutputChannel('SmallCode', { log: true });
  private readonly trace = new TraceChannel(this.output);
  private readonly statusItem = vscode.window.createStatusBarItem(
    'smallcode.status',
    vscode.StatusBarAlignment.Right,
    100,
  );
  private readonly statusChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly disposables: vscode.Disposable[] = [];
  private python: PythonApi | undefined;
  private starting: Promise<void> | undefined;

  constructor(context: vscode.ExtensionContext) {
    this.settings = new ServerSettings(serverSettingKeys(context.extension.packageJSON));
    this.statusItem.name = 'SmallCode';
    this.statusItem.command = CLIENT.status;
    this.render();
    this.statusItem.show();
    this.pollTimer = setInterval(() => {
      if (vscode.window.state.focused) {
        void this.refreshStatus();
      }
    }, POLL_MS);
    this.disposables.push(
      this.output,
      this.trace,
      this.statusItem,
      this.statusChanged,
      vscode.workspace.registerTextDocumentContentProvider(STATUS_URI.scheme, {
        onDidChange: this.statusChanged.event,
        provideTextDocumentContent: () =>
          statusDocument(
            {
              phase: this.phase,
              server: this.command ? describeCommand(this.command) : '(not resolved yet)',
              error: this.lastError,
            },
            this.status,
          ),
      }),
      vscode.workspace.onDidChangeConfiguration((event) => this.onConfigurationChanged(event)),
      vscode.commands.registerCommand(CLIENT.fix, () => this.fix()),
      vscode.commands.registerCommand(CLIENT.generateTests, () => this.generateTests()),
      vscode.commands.registerCommand(CLIENT.status, () => this.showStatus()),
      vscode.commands.registerCommand(CLIENT.reindex, () => this.reindex()),
      vscode.commands.registerCommand(CLIENT.restart, () => this.restart()),
      vscode.commands.registerCommand(CLIENT.showLogs, () => this.output.show()),
    );
  }

  dispose(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.refreshTimer);
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  // ------------------------------------------------------------------ settings

  private get folder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
  }

  /** What the server gets for the `smallcode` section (see ServerSettings for why only explicit values). */
  private serverSettings() {
    const config = vscode.workspace.getConfiguration(SECTION, this.folder?.uri);
    return this.settings.payload((key) => config.inspect(key));
  }

  private onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (event.affectsConfiguration(`${SECTION}.trace.server`)) {
      this.trace.settingChanged();
    }
    if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(key))) {
      void this.restartIfCommandChanged('settings changed');
      return;
    }
    const affectsServer = this.settings.keys.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
    if (affectsServer && this.client?.isRunning()) {
      // Pushed with values, not `settings: null`: no round trip through workspace/configuration.
      void this.client
        .sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: this.serverSettings() } })
        .then(
          () => this.scheduleRefresh(1000),
          (error) => this.output.error(`didChangeConfiguration failed: ${errorText(error)}`),
        );
    }
  }

  // ------------------------------------------------------------------ server process

  /** The optional Python extension, activated at most once and never waited on for long. */
  private async pythonApi(): Promise<PythonApi | undefined> {
    if (this.python) {
      return this.python;
    }
    const extension = vscode.extensions.getExtension<PythonApi>('ms-python.python');
    if (!extension) {
      return undefined;
    }
    try {
      const api = extension.isActive ? extension.exports : await withTimeout(extension.activate(), 10_000);
      if (api) {
        this.python = api;
        const changed = api.environments?.onDidChangeActiveEnvironmentPath;
        if (changed) {
          this.disposables.push(changed(() => void this.restartIfCommandChanged('Python interpreter changed')));
        }
      }
      return api;
    } catch (error) {
      this.output.warn(`Python extension unavailable: ${errorText(error)}`);
      return undefined;
    }
  }

  private async selectedInterpreter(): Promise<string | undefined> {
    const api = await this.pythonApi();
    const resource = this.folder?.uri;
    try {
      const active = api?.environments?.getActiveEnvironmentPath(resource);
      if (active && api?.environments) {
        const resolved = await withTimeout(api.environments.resolveEnvironment(active), 5000);
        const executable = resolved?.executable?.uri?.fsPath;
        if (executable) {
          return executable;
        }
      }
      return api?.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
    } catch (error) {
      this.output.warn(`could not ask the Python extension for its interpreter: ${errorText(error)}`);
      return undefined;
    }
  }

  private async resolveCommand(): Promise<ServerCommand> {
    const config = vscode.workspace.getConfiguration(SECTION, this.folder?.uri);
    const configuredPath = config.get<string>('server.path', '') ?? '';
    const extraArgs = (config.get<unknown[]>('server.args', []) ?? []).filter(
      (a): a is string => typeof a === 'string',
    );
    // The interpreter only matters when no path is configured; don't activate the Python extension otherwise.
    const interpreter = configuredPath.trim() ? undefined : await this.selectedInterpreter();
    return resolveServerCommand(
      {
        configuredPath,
        extraArgs,
        interpreter,
        workspaceFolder: this.folder?.uri.fsPath,
        home: os.homedir(),
        env: process.env,
        platform: process.platform,
      },
      nodeIsExecutable(),
    );
  }

  start(): Promise<void> {
    this.starting ??= this.doStart()
      .catch((error) => {
        this.lastError = errorText(error);
        this.output.error(`could not start the server: ${this.lastError}`);
        this.setPhase('failed');
      })
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.setPhase('starting');
    const command = (this.command = await this.resolveCommand());
    this.output.info(`starting ${describeCommand(command)}`);
    const serverOptions: ServerOptions = {
      command: command.command,
      args: command.args,
      options: { cwd: this.folder?.uri.fsPath, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
      outputChannel: this.output,
      traceOutputChannel: this.trace,
      initializationOptions: () => this.serverSettings(),
      middleware: {
        // The server also answers textDocument/completion, for editors without ghost text. VS Code has
        // ghost text, and both requests would reach the server on every keystroke, each cancelling
        // the other ("a newer request for the same document wins"). So completion lists stay local.
        provideCompletionItem: () => undefined,
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          const result = await next(document, position, context, token);
          this.scheduleRefresh(300); // the status bar shows who answered (local / cloud)
          return result;
        },
        workspace: {
          // The server pulls the `smallcode` section at startup; answer with the same explicit
          // values as initializationOptions, never with VS Code's defaults or editor-only keys.
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (answer instanceof ResponseError || !Array.isArray(answer)) {
              return answer;
            }
            return answer.map((value, i) => (params.items[i]?.section === SECTION ? this.serverSettings() : value));
          },
        },
      },
    };
    const client = new LanguageClient('smallcode', 'SmallCode', serverOptions, clientOptions);
    client.onDidChangeState((event) => {
      if (this.client !== client) {
        return;
      }
      if (event.newState === State.Starting) {
        this.setPhase('starting'); // also when vscode-languageclient restarts a crashed server
      } else if (event.newState === State.Running) {
        this.lastError = undefined;
        this.setPhase('running');
        this.scheduleRefresh(500);
      } else if (event.newState === State.Stopped && this.phase !== 'stopped') {
        this.setPhase('failed');
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.lastError = errorText(error);
      this.output.error(`the server did not start: ${this.lastError}`);
      this.setPhase('failed');
      void vscode.window
        .showErrorMessage(
          `SmallCode: could not start ${command.command} (${this.lastError}). Install the smallcode-lsp Python package or set smallcode.server.path.`,
          'Show logs',
          'Open settings',
        )
        .then((choice) => {
          if (choice === 'Show logs') {
            this.output.show();
          } else if (choice === 'Open settings') {
            void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
          }
        });
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.setPhase('stopped');
    this.client = undefined;
    this.status = undefined;
    if (client) {
      try {
        await client.stop(); // waits up to 2 s for the server's shutdown reply
      } catch (error) {
        this.output.warn(`stopping the server: ${errorText(error)}`);
      }
    }
  }

  private async restart(): Promise<void> {
    await this.starting;
    await this.stop();
    await this.start();
  }

  private async restartIfCommandChanged(reason: string): Promise<void> {
    await this.starting;
    const next = await this.resolveCommand();
    if (!sameCommand(next, this.command) || this.phase === 'failed') {
      this.output.info(`${reason}: restarting with ${describeCommand(next)}`);
      await this.restart();
    }
  }

  // ------------------------------------------------------------------ status

  private setPhase(phase: ClientPhase): void {
    this.phase = phase;
    this.render();
  }

  private render(): void {
    const detail = this.lastError ?? (this.command ? describeCommand(this.command) : '');
    const view = formatStatusBar(this.phase, this.status, detail);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor =
      this.phase === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  private scheduleRefresh(delayMs: number): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshStatus(), delayMs);
  }

  private async refreshStatus(): Promise<void> {
    const client = this.client;
    if (this.polling || !client?.isRunning()) {
      return;
    }
    this.polling = true;
    try {
      this.status = await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER.status, arguments: [] });
    } catch (error) {
      this.output.debug(`status poll failed: ${errorText(error)}`);
    } finally {
      this.polling = false;
      this.render();
      this.statusChanged.fire(STATUS_URI);
    }
  }

  private async showStatus(): Promise<void> {
    await this.refreshStatus();
    // Read-only (a content provider's document) and JSON-highlighted by its `.json` name.
    const document = await vscode.workspace.openTextDocument(STATUS_URI);
    await vscode.window.showTextDocument(document, { preview: true });
  }

  // ------------------------------------------------------------------ commands

  /** The running client, or undefined after telling the user why there is none. */
  private runningClient(): LanguageClient | undefined {
    if (this.client?.isRunning()) {
      return this.client;
    }
    const why = this.phase === 'starting' ? 'is still starting' : 'is not running';
    void vscode.window.showWarningMessage(`SmallCode: the server ${why}.`, 'Show logs', 'Restart').then((choice) => {
      if (choice === 'Show logs') {
        this.output.show();
      } else if (choice === 'Restart') {
        void this.restart();
      }
    });
    return undefined;
  }

  private editorFor(what: string): vscode.TextEditor | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.uri.scheme !== 'file') {
      void vscode.window.showWarningMessage(`SmallCode: open a file from the workspace to ${what}.`);
      return undefined;
    }
    return editor;
  }

  /** Runs a server command with a cancellable notification; cancelling sends $/cancelRequest. */
  private async execute(client: LanguageClient, title: string, command: string, argument: unknown): Promise<unknown> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) => client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] }, token),
    );
  }

  private async report(outcome: Outcome): Promise<void> {
    this.output.info(outcome.message);
    if (outcome.level === 'info') {
      void vscode.window.showInformationMessage(outcome.message);
    } else if (outcome.level === 'warning') {
      void vscode.window.showWarningMessage(outcome.message);
    } else if (outcome.level === 'error') {
      void vscode.window.showErrorMessage(outcome.message);
    }
    if (outcome.text) {
      const document = await vscode.workspace.openTextDocument({ language: 'python', content: outcome.text });
      await vscode.window.showTextDocument(document);
    }
  }

  private async failed(what: string, error: unknown): Promise<void> {
    if (error instanceof vscode.CancellationError || (error instanceof ResponseError && error.code === -32800)) {
      this.output.info(`${what}: cancelled`);
      return;
    }
    const message = `SmallCode: ${what} failed: ${errorText(error)}`;
    this.output.error(message);
    void vscode.window.showErrorMessage(message);
  }

  private async fix(): Promise<void> {
    const editor = this.editorFor('fix');
    const client = editor && this.runningClient();
    if (!editor || !client) {
      return;
    }
    const converter = client.code2ProtocolConverter;
    try {
      const diagnostics = await converter.asDiagnostics(vscode.languages.getDiagnostics(editor.document.uri));
      const selection = converter.asRange(editor.selection);
      const cursor = converter.asPosition(editor.selection.active);
      const argument = fixArgument(converter.asUri(editor.document.uri), selection, cursor, diagnostics);
      const result = await this.execute(client, 'SmallCode: Fix this', SERVER.fix, argument);
      await this.report(describeFixResult(result));
    } catch (error) {
      await this.failed('Fix this', error);
    } finally {
      this.scheduleRefresh(0);
    }
  }

  private async generateTests(): Promise<void> {
    const editor = this.editorFor('generate tests for');
    const client = editor && this.runningClient();
    if (!editor || !client) {
      return;
    }
    const converter = client.code2ProtocolConverter;
    try {
      const argument = testsArgument(
        converter.asUri(editor.document.uri),
        converter.asPosition(editor.selection.active),
      );
      const result = await this.execute(client, 'SmallCode: Generate tests', SERVER.generateTests, argument);
      await this.report(describeTestsResult(result));
    } catch (error) {
      await this.failed('Generate tests', error);
    } finally {
      this.scheduleRefresh(0);
    }
  }

  private async reindex(): Promise<void> {
    const client = this.runningClient();
    if (!client) {
      return;
    }
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'SmallCode: indexing' },
        () => client.sendRequest(ExecuteCommandRequest.type, { command: SERVER.reindex, arguments: [] }),
      );
      await this.report(describeReindexResult(result));
    } catch (error) {
      await this.failed('Reindex', error);
    } finally {
      this.scheduleRefresh(0);
    }
  }
}

let extension: SmallCodeExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new SmallCodeExtension(context);
  context.subscriptions.push(extension);
  // Not awaited: activation must not wait for the server (or the Python extension) to come up.
  void extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
