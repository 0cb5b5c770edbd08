import * as vscode from 'vscode';
import {
  LanguageClient,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { FloxlsController, type ClientLike } from './controller';
import { CLIENT_ID, CLIENT_NAME } from './ids';

/** LanguageClient whose error pop-ups can be held back while we explain a failed start. */
class FloxlsLanguageClient extends LanguageClient {
  quiet = false;
  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, this.quiet ? false : showNotification);
  }
}

function createClient(serverOptions: ServerOptions, clientOptions: LanguageClientOptions): ClientLike {
  // The id "floxls" makes the client read `floxls.trace.server` itself.
  const client = new FloxlsLanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  const stateName = (s: State): 'starting' | 'running' | 'stopped' =>
    s === State.Running ? 'running' : s === State.Starting ? 'starting' : 'stopped';
  return {
    start: () => client.start(),
    stop: () => client.stop(),
    sendRequest: (method, params) => client.sendRequest(method, params),
    sendNotification: (method, params) => client.sendNotification(method, params),
    onDidChangeState: (listener) => client.onDidChangeState((e) => listener(stateName(e.newState))),
    asUri: (uri) => client.code2ProtocolConverter.asUri(uri),
    get quiet() {
      return client.quiet;
    },
    set quiet(value: boolean) {
      client.quiet = value;
    },
  };
}

let controller: FloxlsController | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('floxls', { log: true });
  controller = new FloxlsController(log, createClient);
  context.subscriptions.push(log, controller, ...registerCommands(controller));
  // Not awaited: a server slow to answer `initialize` must not hold up activation (VS Code waits
  // for activate() before running our commands, e.g. "Show Log"). start() reports its own failures.
  void controller.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
