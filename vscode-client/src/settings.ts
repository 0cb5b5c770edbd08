import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** The `floxls.*` settings, as the extension reads them. */
export interface FloxlsSettings {
  serverCommand: string[];
  pythonPath: string;
  storeUrl: string;
  signingKey: string;
  catalogUrl: string;
}

export const DEFAULT_SERVER_COMMAND = ['floxls', 'serve'];

/** Splits a command string on whitespace, honouring "double" and 'single' quotes. */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of command) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

export function readSettings(scope?: vscode.Uri): FloxlsSettings {
  const cfg = vscode.workspace.getConfiguration('floxls', scope);
  const raw = cfg.get<unknown>('server.command');
  let serverCommand: string[];
  if (Array.isArray(raw)) {
    serverCommand = raw.filter((w): w is string => typeof w === 'string' && w !== '');
  } else if (typeof raw === 'string') {
    serverCommand = splitCommand(raw);
  } else {
    serverCommand = [];
  }
  if (serverCommand.length === 0) serverCommand = [...DEFAULT_SERVER_COMMAND];
  return {
    serverCommand,
    pythonPath: str(cfg.get('server.pythonPath')),
    storeUrl: str(cfg.get('publish.storeUrl')),
    signingKey: str(cfg.get('publish.signingKey')),
    catalogUrl: str(cfg.get('catalog.url')),
  };
}

/** Expands `~`, `${userHome}` and `${workspaceFolder}` in a path setting. */
export function expandPath(value: string, workspaceFolder: string | undefined, home = os.homedir()): string {
  let out = value.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder !== undefined) out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  if (out === '~') return home;
  if (out.startsWith('~/') || out.startsWith('~' + path.sep)) return path.join(home, out.slice(2));
  return out;
}

export type Launch =
  | { kind: 'process'; command: string; args: string[]; source: 'server.command' | 'server.pythonPath' }
  | { kind: 'tcp'; host: string; port: number };

/** How to start (or reach) the server. `FLOXLS_SERVER_TCP=host:port` in the extension host's
 * environment connects to a server already running as `floxls serve --tcp host:port`
 * (used by .vscode/launch.json to debug the server). */
export function serverLaunch(
  settings: FloxlsSettings,
  env: NodeJS.ProcessEnv = process.env,
  workspaceFolder?: string,
): Launch {
  const tcp = env.FLOXLS_SERVER_TCP?.trim();
  if (tcp) {
    const m = /^(?:(.*):)?(\d+)$/.exec(tcp);
    if (!m) throw new Error(`FLOXLS_SERVER_TCP must be HOST:PORT or PORT, not "${tcp}"`);
    return { kind: 'tcp', host: m[1] || '127.0.0.1', port: Number(m[2]) };
  }
  if (settings.pythonPath) {
    return {
      kind: 'process',
      command: expandPath(settings.pythonPath, workspaceFolder),
      args: ['-m', 'floxls', 'serve'],
      source: 'server.pythonPath',
    };
  }
  const [command, ...args] = settings.serverCommand;
  return { kind: 'process', command: expandPath(command, workspaceFolder), args, source: 'server.command' };
}

/** The editor settings for the server, in the shape of the contract:
 * `{"publish": {"storeUrl", "signingKey"}, "catalog": {"url"}, "trusted"}`. Every key is always
 * sent; "" means "not set in the editor" (the server then uses the flox config). The server
 * merges what it receives, so a cleared setting must be sent as "" rather than left out. */
export interface ServerSettings {
  publish: { storeUrl: string; signingKey: string };
  catalog: { url: string };
  trusted: boolean;
}

export function serverSettings(
  settings: FloxlsSettings,
  trusted: boolean,
  workspaceFolder?: string,
): ServerSettings {
  return {
    publish: {
      storeUrl: settings.storeUrl,
      signingKey: settings.signingKey ? expandPath(settings.signingKey, workspaceFolder) : '',
    },
    catalog: { url: settings.catalogUrl },
    trusted,
  };
}

/** Settings whose change needs a new server process; the others go by didChangeConfiguration. */
export function changeNeedsRestart(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration('floxls.server');
}

export function changeAffectsServerSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration('floxls.publish') || e.affectsConfiguration('floxls.catalog');
}

export function firstWorkspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}
