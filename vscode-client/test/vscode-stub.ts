/* A stub of the `vscode` module, enough for the extension's logic to run under node:test.
 * esbuild.mjs --tests resolves `import * as vscode from 'vscode'` to this file; tests import it
 * as './vscode-stub' to script the editor (settings, trust, quick picks, message replies). */
import * as path from 'node:path';
import pkg from '../package.json';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => {}) {}
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', path.resolve(p));
  }
  static parse(s: string): Uri {
    const m = /^([a-z][a-z0-9+.-]*):(?:\/\/[^/]*)?(.*)$/i.exec(s);
    if (!m) throw new Error(`bad uri ${s}`);
    return new Uri(m[1], decodeURIComponent(m[2]));
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${encodeURI(this.path)}`;
  }
}

export enum LanguageStatusSeverity {
  Information = 0,
  Warning = 1,
  Error = 2,
}

export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

export interface Message {
  level: 'info' | 'warning' | 'error';
  text: string;
  items: string[];
}

/** Defaults as VS Code reads them from package.json contributes.configuration. */
export const DEFAULTS: Record<string, unknown> = Object.fromEntries(
  Object.entries(pkg.contributes.configuration.properties).map(([k, v]) => [k, (v as { default: unknown }).default]),
);

export const stub = {
  /** User/workspace values by full key, e.g. 'floxls.server.command'. */
  config: {} as Record<string, unknown>,
  trusted: true,
  activeUri: undefined as Uri | undefined,
  files: [] as Uri[],
  folders: [] as string[],
  messages: [] as Message[],
  opened: [] as string[],
  executed: [] as { command: string; args: unknown[] }[],
  log: [] as string[],
  /** Answers showQuickPick: receives the items, returns the pick (default: dismiss). */
  quickPick: (_items: readonly unknown[]): unknown => undefined,
  /** Answers show*Message: returns the clicked item (default: dismiss). */
  reply: (_m: Message): string | undefined => undefined,
  statusItems: [] as LanguageStatusItem[],
  configEmitter: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  trustEmitter: new EventEmitter<void>(),
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  reset(): void {
    this.config = {};
    this.trusted = true;
    this.activeUri = undefined;
    this.files = [];
    this.folders = [];
    this.messages = [];
    this.opened = [];
    this.executed = [];
    this.log = [];
    this.quickPick = () => undefined;
    this.reply = () => undefined;
    this.statusItems = [];
    this.configEmitter = new EventEmitter();
    this.trustEmitter = new EventEmitter();
    this.commands = new Map();
  },
  /** Changes settings and fires onDidChangeConfiguration like VS Code does. */
  changeConfig(values: Record<string, unknown>): void {
    Object.assign(this.config, values);
    const keys = Object.keys(values);
    this.configEmitter.fire({
      affectsConfiguration: (section: string) => keys.some((k) => k === section || k.startsWith(section + '.')),
    });
  },
};

export interface LanguageStatusItem {
  id: string;
  selector: unknown;
  name?: string;
  text: string;
  detail?: string;
  severity: LanguageStatusSeverity;
  busy: boolean;
  command?: { title: string; command: string };
  dispose(): void;
}

function message(level: Message['level']) {
  return (text: string, ...items: unknown[]): Promise<string | undefined> => {
    const m = { level, text, items: items.filter((i): i is string => typeof i === 'string') };
    stub.messages.push(m);
    return Promise.resolve(stub.reply(m));
  };
}

function logger(level: string) {
  return (text: string) => {
    stub.log.push(`[${level}] ${text}`);
  };
}

export const window = {
  get activeTextEditor() {
    return stub.activeUri ? { document: { uri: stub.activeUri } } : undefined;
  },
  showInformationMessage: message('info'),
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  showQuickPick: (items: readonly unknown[] | Promise<readonly unknown[]>, _options?: unknown) =>
    Promise.resolve(items).then((list) => stub.quickPick(list)),
  createOutputChannel: (name: string, _options?: { log: true }) => ({
    name,
    logLevel: 2,
    onDidChangeLogLevel: new EventEmitter<number>().event,
    trace: logger('trace'),
    debug: logger('debug'),
    info: logger('info'),
    warn: logger('warn'),
    error: logger('error'),
    append: logger('raw'),
    appendLine: logger('raw'),
    replace: logger('raw'),
    clear: () => {},
    show: () => stub.log.push('[show]'),
    hide: () => {},
    dispose: () => {},
  }),
};

export const workspace = {
  get isTrusted() {
    return stub.trusted;
  },
  get workspaceFolders() {
    return stub.folders.length ? stub.folders.map((f, index) => ({ uri: Uri.file(f), name: path.basename(f), index })) : undefined;
  },
  getConfiguration: (section?: string, _scope?: unknown) => ({
    get: <T>(key: string, fallback?: T): T | undefined => {
      const full = section ? `${section}.${key}` : key;
      if (full in stub.config) return stub.config[full] as T;
      if (full in DEFAULTS) return DEFAULTS[full] as T;
      return fallback;
    },
  }),
  onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(section: string): boolean }>) => stub.configEmitter.event(l),
  onDidGrantWorkspaceTrust: (l: Listener<void>) => stub.trustEmitter.event(l),
  findFiles: (_include: string, _exclude?: string, _max?: number) => Promise.resolve([...stub.files]),
  openTextDocument: (uri: Uri) => {
    stub.opened.push(uri.toString());
    return Promise.resolve({ uri });
  },
  asRelativePath: (uri: Uri | string) => {
    const p = typeof uri === 'string' ? uri : uri.fsPath;
    const folder = stub.folders.find((f) => p.startsWith(f + path.sep));
    return folder ? path.relative(folder, p) : p;
  },
};

export const commands = {
  registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
    if (stub.commands.has(id)) throw new Error(`command '${id}' already exists`);
    stub.commands.set(id, fn);
    return new Disposable(() => stub.commands.delete(id));
  },
  executeCommand: async (id: string, ...args: unknown[]) => {
    stub.executed.push({ command: id, args });
    const fn = stub.commands.get(id);
    return fn ? fn(...args) : undefined;
  },
};

export const languages = {
  createLanguageStatusItem: (id: string, selector: unknown): LanguageStatusItem => {
    const item: LanguageStatusItem = {
      id,
      selector,
      text: '',
      severity: LanguageStatusSeverity.Information,
      busy: false,
      dispose: () => {},
    };
    stub.statusItems.push(item);
    return item;
  },
};
