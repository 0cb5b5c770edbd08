import type { LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { FloxlsController, type ClientLike } from '../src/controller';
import { window, Disposable } from './vscode-stub';
import * as vscodeStub from './vscode-stub';

export { vscodeStub };

type Handler = (params: { command: string; arguments: unknown[] }) => unknown;

/** A stand-in for LanguageClient: records requests and answers executeCommand from `handlers`. */
export class FakeClient implements ClientLike {
  quiet = false;
  started = 0;
  stopped = 0;
  requests: { method: string; params: unknown }[] = [];
  notifications: { method: string; params: unknown }[] = [];
  handlers: Record<string, Handler> = {};
  failStart: Error | undefined;
  /** When set, start() waits for it (a server slow to answer initialize). */
  startGate: Promise<void> | undefined;
  private starting = false;
  /** Run the server options function (spawns the real process) like LanguageClient does. */
  realSpawn = false;
  private listeners: ((s: 'starting' | 'running' | 'stopped') => void)[] = [];

  constructor(
    readonly serverOptions: ServerOptions,
    readonly clientOptions: LanguageClientOptions,
  ) {}

  async start(): Promise<void> {
    this.started++;
    this.emit('starting');
    this.starting = true;
    try {
      await this.startUp();
    } finally {
      this.starting = false;
    }
  }

  private async startUp(): Promise<void> {
    if (this.startGate) await this.startGate;
    if (this.realSpawn && typeof this.serverOptions === 'function') {
      // Like LanguageClient: run the server options function, fail if the server dies at once.
      const result = await this.serverOptions();
      if ('pid' in result && 'once' in result) {
        const child = result;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, 300);
          child.once('exit', () => {
            clearTimeout(timer);
            reject(new Error('Connection closed'));
          });
        });
        child.kill();
      }
    }
    if (this.failStart) throw this.failStart;
    this.emit('running');
  }

  async stop(): Promise<void> {
    // Like LanguageClient 9 (shutdown()): a client still starting cannot be stopped.
    if (this.starting) throw new Error("Client is not running and can't be stopped. It's current state is: starting");
    this.stopped++;
    this.emit('stopped');
  }

  async sendRequest(method: string, params: unknown): Promise<unknown> {
    this.requests.push({ method, params });
    if (method !== 'workspace/executeCommand') throw new Error(`unexpected request ${method}`);
    const p = params as { command: string; arguments: unknown[] };
    const handler = this.handlers[p.command];
    if (!handler) throw new Error(`command ${p.command} not found`);
    return handler(p);
  }

  async sendNotification(method: string, params: unknown): Promise<void> {
    this.notifications.push({ method, params });
  }

  onDidChangeState(listener: (s: 'starting' | 'running' | 'stopped') => void): Disposable {
    this.listeners.push(listener);
    return new Disposable(() => (this.listeners = this.listeners.filter((l) => l !== listener)));
  }

  asUri(uri: { toString(): string }): string {
    return uri.toString();
  }

  private emit(s: 'starting' | 'running' | 'stopped'): void {
    for (const l of this.listeners) l(s);
  }

  /** Server commands sent, as [command, ...arguments]. */
  get commandsSent(): unknown[][] {
    return this.requests.map((r) => {
      const p = r.params as { command: string; arguments: unknown[] };
      return [p.command, ...p.arguments];
    });
  }
}

export function newController(
  env: NodeJS.ProcessEnv = {},
  setup: (c: FakeClient) => void = () => {},
): { ctl: FloxlsController; clients: FakeClient[] } {
  const clients: FakeClient[] = [];
  const log = window.createOutputChannel('floxls', { log: true });
  const ctl = new FloxlsController(
    log as never,
    (serverOptions, clientOptions) => {
      const c = new FakeClient(serverOptions, clientOptions);
      setup(c);
      clients.push(c);
      return c;
    },
    env,
  );
  return { ctl, clients };
}

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
