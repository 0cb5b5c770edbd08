import * as vscode from 'vscode';
import type {
  CloseHandlerResult,
  ErrorHandler,
  ErrorHandlerResult,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
} from 'vscode-languageclient/node';
import { DOCUMENT_SELECTOR, PUBLISHING_COMMANDS, SERVER } from './ids';
import {
  connectServer,
  explainStartFailure,
  spawnServer,
  Tail,
  type ProcessWatch,
  type StartFailure,
} from './server';
import {
  changeAffectsServerSettings,
  changeNeedsRestart,
  firstWorkspaceFolder,
  readSettings,
  serverLaunch,
  serverSettings,
  type Launch,
  type ServerSettings,
} from './settings';
import { StatusView, type ServerState } from './status';

/** The part of vscode-languageclient's LanguageClient the controller uses (extension.ts adapts
 * the real one; unit tests pass a fake). */
export interface ClientLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  sendRequest(method: string, params: unknown): Promise<unknown>;
  sendNotification(method: string, params: unknown): Promise<void>;
  onDidChangeState(listener: (state: 'starting' | 'running' | 'stopped') => void): vscode.Disposable;
  asUri(uri: vscode.Uri): string;
  /** While true, the client logs its own error pop-ups instead of showing them (we explain). */
  quiet: boolean;
}

export type ClientFactory = (serverOptions: ServerOptions, clientOptions: LanguageClientOptions) => ClientLike;

/** Numeric values of vscode-languageclient's enums (kept here so this module imports only types). */
const ErrorAction = { Continue: 1, Shutdown: 2 } as const;
const CloseAction = { DoNotRestart: 1, Restart: 2 } as const;
const REVEAL_NEVER = 4 as RevealOutputChannelOn;
const RESTART_WINDOW_MS = 3 * 60 * 1000;
const MAX_RESTARTS = 4;

export class NotRunningError extends Error {
  constructor(state: ServerState) {
    super(`The floxls server is ${state === 'starting' ? 'still starting' : 'not running'}.`);
  }
}

export const UNTRUSTED_PUBLISH =
  'Publishing is disabled in an untrusted workspace: it runs the build commands of this manifest. Trust the workspace to publish.';

/** What the status item says about a `floxls.publish` result. The server answers
 * `{published: true, catalog, name, version, ...}` or `{published: false, error, fix}` /
 * `{published: false, cancelled: true}`, and tells the user itself (window/showMessage). */
export function interpretPublish(name: string, result: unknown): { ok: boolean; summary: string } {
  if (typeof result === 'string' && result.trim()) return { ok: true, summary: result.trim() };
  if (typeof result === 'object' && result !== null) {
    const r = result as Record<string, unknown>;
    if (r.published === false) {
      if (r.cancelled === true) return { ok: false, summary: 'cancelled' };
      const error = typeof r.error === 'string' && r.error ? r.error : 'failed';
      return { ok: false, summary: typeof r.fix === 'string' && r.fix ? `${error} (fix: ${r.fix})` : error };
    }
    const pkg = typeof r.name === 'string' ? r.name : name;
    const full = typeof r.catalog === 'string' && r.catalog ? `${r.catalog}/${pkg}` : pkg;
    const version = typeof r.version === 'string' && r.version ? ` ${r.version}` : '';
    const store = typeof r.storeUrl === 'string' && r.storeUrl ? ` → ${r.storeUrl}` : '';
    return { ok: true, summary: `${full}${version}${store}` };
  }
  return { ok: true, summary: `${name} published` };
}

/** JSON-RPC RequestFailed: the server refused and has already told the user why. */
const REQUEST_FAILED = -32803;

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Owns the language client: builds its options from the settings, starts, restarts, explains
 * failures, guards publishing in untrusted workspaces and tracks the status item. */
export class FloxlsController implements vscode.Disposable {
  readonly status: StatusView;
  private client: ClientLike | undefined;
  private clientSubscriptions: vscode.Disposable[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];
  private everRan = false;
  private restarts: number[] = [];
  /** The current client's start(): LanguageClient.stop() throws while it is pending. */
  private pendingStart: Promise<void> | undefined;
  watch: ProcessWatch = { stderr: new Tail(), exitCode: null, exited: Promise.resolve() };
  lastFailure: StartFailure | undefined;

  constructor(
    readonly log: vscode.LogOutputChannel,
    private readonly createClient: ClientFactory,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.status = new StatusView(() => this.trusted);
    this.subscriptions.push(
      this.status,
      vscode.workspace.onDidChangeConfiguration((e) => void this.onDidChangeConfiguration(e)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.onDidGrantTrust()),
    );
  }

  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  get state(): ServerState {
    return this.status.state;
  }

  /** The settings payload for initializationOptions and didChangeConfiguration. */
  serverSettings(): ServerSettings {
    const folder = firstWorkspaceFolder();
    return serverSettings(readSettings(), this.trusted, folder);
  }

  launch(): Launch {
    return serverLaunch(readSettings(), this.env, firstWorkspaceFolder());
  }

  serverOptions(launch: Launch): ServerOptions {
    if (launch.kind === 'tcp') {
      return async () => {
        const socket = await connectServer(launch);
        return { reader: socket, writer: socket };
      };
    }
    return async () => {
      this.watch = { stderr: new Tail(), exitCode: null, exited: Promise.resolve() };
      this.log.info(`starting the server: ${[launch.command, ...launch.args].join(' ')}`);
      return spawnServer(launch, firstWorkspaceFolder(), this.watch);
    };
  }

  clientOptions(): LanguageClientOptions {
    const errorHandler: ErrorHandler = {
      error: (_error, _message, count): ErrorHandlerResult => ({
        action: (count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown) as ErrorHandlerResult['action'],
      }),
      closed: (): CloseHandlerResult => this.onClosed(),
    };
    return {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.log,
      traceOutputChannel: this.log,
      revealOutputChannelOn: REVEAL_NEVER,
      diagnosticCollectionName: 'floxls',
      initializationOptions: () => this.serverSettings(),
      errorHandler,
      markdown: { isTrusted: false, supportHtml: false },
      middleware: {
        executeCommand: (command, args, next) => this.routeServerCommand(command, args, () => next(command, args)),
      },
    };
  }

  private onClosed(): CloseHandlerResult {
    if (!this.everRan) {
      // Failed during start-up: start() rejects and we explain it; restarting would loop.
      return { action: CloseAction.DoNotRestart as CloseHandlerResult['action'], handled: true };
    }
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    this.restarts.push(now);
    if (this.restarts.length <= MAX_RESTARTS) {
      this.log.warn('the floxls server stopped unexpectedly; restarting it');
      return { action: CloseAction.Restart as CloseHandlerResult['action'], handled: true };
    }
    const message = `The floxls server stopped ${MAX_RESTARTS + 1} times in 3 minutes and will not be restarted. Use "Flox: Restart Language Server" after fixing it.`;
    this.status.setState('failed', 'crashed repeatedly');
    return { action: CloseAction.DoNotRestart as CloseHandlerResult['action'], message };
  }

  /** Starts the server; on failure shows what went wrong and how to fix it. */
  async start(): Promise<boolean> {
    if (this.client) return this.state === 'running';
    let launch: Launch;
    try {
      launch = this.launch();
    } catch (e) {
      this.fail({ message: errorMessage(e), fix: 'Fix the FLOXLS_SERVER_TCP environment variable.' });
      return false;
    }
    this.everRan = false;
    this.lastFailure = undefined;
    this.status.setState('starting');
    const client = this.createClient(this.serverOptions(launch), this.clientOptions());
    this.client = client;
    this.clientSubscriptions.push(
      client.onDidChangeState((state) => {
        if (this.client !== client) return;
        if (state === 'running') this.everRan = true;
        if (state === 'stopped' && this.state === 'failed') return;
        this.status.setState(state);
      }),
    );
    client.quiet = true;
    const starting = client.start();
    this.pendingStart = starting;
    try {
      await starting;
      if (this.client !== client) return false; // stopped or restarted while starting
      client.quiet = false;
      this.everRan = true;
      this.status.setState('running');
      this.log.info(`floxls server running${this.trusted ? '' : ' (untrusted workspace: publishing disabled)'}`);
      return true;
    } catch (error) {
      if (this.client !== client) return false; // a newer start owns the state now
      await Promise.race([this.watch.exited, new Promise((r) => setTimeout(r, 1000))]);
      const failure = explainStartFailure(launch, {
        error,
        stderr: this.watch.stderr.toString(),
        exitCode: this.watch.exitCode,
      });
      this.disposeClient();
      this.fail(failure);
      return false;
    } finally {
      if (this.pendingStart === starting) this.pendingStart = undefined;
    }
  }

  private fail(failure: StartFailure): void {
    this.lastFailure = failure;
    this.status.setState('failed', failure.message);
    this.log.error(`${failure.message} Fix: ${failure.fix}`);
    void vscode.window
      .showErrorMessage(`${failure.message} ${failure.fix}`, 'Open Settings', 'Show Log', 'Retry')
      .then((choice) => {
        if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'floxls.server');
        else if (choice === 'Show Log') this.log.show();
        else if (choice === 'Retry') void this.restart();
      });
  }

  private disposeClient(): void {
    for (const d of this.clientSubscriptions) d.dispose();
    this.clientSubscriptions = [];
    this.client = undefined;
  }

  async stop(): Promise<void> {
    const client = this.client;
    const starting = this.pendingStart;
    this.disposeClient();
    if (client) {
      // LanguageClient cannot stop while starting ("Client is not running and can't be
      // stopped"): the process would live on and its server commands stay registered, so the
      // next client's registration of floxls.publish etc. would fail. Let the start settle first.
      if (starting) await Promise.race([starting.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
      try {
        await client.stop();
      } catch (e) {
        this.log.warn(`stopping the server: ${errorMessage(e)}`);
      }
    }
    this.status.setState('stopped');
  }

  async restart(): Promise<boolean> {
    this.log.info('restarting the floxls server');
    await this.stop();
    this.restarts = [];
    return this.start();
  }

  /** Sends `workspace/executeCommand` for a server command, through the same guard as lenses. */
  executeServerCommand(command: string, args: unknown[]): Promise<unknown> {
    const client = this.client;
    if (!client || this.state !== 'running') return Promise.reject(new NotRunningError(this.state));
    return this.routeServerCommand(command, args, () =>
      client.sendRequest('workspace/executeCommand', { command, arguments: args }),
    );
  }

  asUri(uri: vscode.Uri): string {
    return this.client ? this.client.asUri(uri) : uri.toString();
  }

  /** Every server command goes through here, whether from our commands or the server's code
   * lenses: publishing is refused in an untrusted workspace and its outcome is tracked. */
  async routeServerCommand(command: string, args: unknown[], send: () => unknown): Promise<unknown> {
    if (!PUBLISHING_COMMANDS.has(command)) {
      const result = await send();
      if (command === SERVER.explainBlocked && typeof result === 'string' && result) {
        void vscode.window.showWarningMessage(result);
      }
      return result;
    }
    const name = typeof args[1] === 'string' ? args[1] : 'target';
    if (!this.trusted) {
      this.log.warn(`refused to publish ${name}: untrusted workspace`);
      void vscode.window.showWarningMessage(UNTRUSTED_PUBLISH, 'Manage Workspace Trust').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
      });
      return undefined;
    }
    this.status.startPublish(name);
    try {
      const result = await send();
      const { ok, summary } = interpretPublish(name, result);
      this.status.endPublish({ name, ok, summary, at: new Date() });
      if (ok) this.log.info(`published: ${summary}`);
      else this.log.warn(`publishing ${name}: ${summary}`);
      return result;
    } catch (error) {
      const message = errorMessage(error);
      this.status.endPublish({ name, ok: false, summary: message, at: new Date() });
      this.log.error(`publishing ${name} failed: ${message}`);
      const code = (error as { code?: unknown } | null)?.code;
      if (code !== REQUEST_FAILED) {
        void vscode.window.showErrorMessage(`Publishing ${name} failed: ${message}`, 'Show Log').then((choice) => {
          if (choice) this.log.show();
        });
      }
      return undefined;
    }
  }

  async onDidChangeConfiguration(e: vscode.ConfigurationChangeEvent): Promise<void> {
    if (changeNeedsRestart(e)) {
      this.log.info('floxls.server settings changed');
      await this.restart();
    } else if (changeAffectsServerSettings(e) && this.client && this.state === 'running') {
      await this.client.sendNotification('workspace/didChangeConfiguration', { settings: this.serverSettings() });
    }
  }

  /** Trust was granted: start again so the server learns it and workspace settings apply. */
  async onDidGrantTrust(): Promise<void> {
    this.log.info('workspace trusted: restarting the server with publishing enabled');
    await this.restart();
  }

  showLog(): void {
    this.log.show(true);
  }

  dispose(): void {
    void this.stop();
    for (const d of this.subscriptions) d.dispose();
  }
}

