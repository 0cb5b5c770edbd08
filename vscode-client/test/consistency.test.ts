/* Consistency with the REAL server: starts `python3 -m floxls serve` (or $FLOXLS_PYTHON) over
 * stdio with a minimal JSON-RPC client, reads the advertised executeCommandProvider.commands and
 * checks them against package.json and the extension's command flows. Skipped (with the reason)
 * only while floxls.lsp.server or floxls.commands.serve does not exist yet. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import pkg from '../package.json';
import { registerCommands } from '../src/commands';
import { CLIENT, SERVER, SERVER_COMMAND_ROUTES } from '../src/ids';
import { newController, type FakeClient } from './helpers';
import { stub, Uri } from './vscode-stub';

const repoRoot = path.resolve(__dirname, '..', '..', '..'); // out/test -> vscode-client -> repo
const python = process.env.FLOXLS_PYTHON || 'python3';

/** Why the real server cannot be tried yet, or undefined when it can. Other import errors fail. */
function serverMissing(): string | undefined {
  // `python -m floxls serve` needs both the server and the CLI's serve command.
  const probe = spawnSync(python, ['-c', 'import floxls.lsp.server, floxls.commands.serve'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (probe.error) return `${python} cannot run (${probe.error.message}); set FLOXLS_PYTHON`;
  if (probe.status === 0) return undefined;
  if (/ModuleNotFoundError: No module named 'floxls(\.lsp(\.server)?|\.commands(\.serve)?)?'/.test(probe.stderr)) {
    const why = probe.stderr.trim().split('\n').pop();
    return `the language server is not written yet: python -m floxls serve cannot run (${python}: ${why})`;
  }
  assert.fail(`importing floxls.lsp.server failed:\n${probe.stderr}`);
}

/** A minimal JSON-RPC 2.0 client over the server's stdio (Content-Length framing). */
class RpcClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  stderr = '';

  constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    proc.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`server exited (${code}): ${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
  }

  private write(message: object): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
    this.proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.proc.stdin.write(body);
  }

  request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    this.write({ id, method, params });
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  notify(method: string, params: unknown): void {
    this.write({ method, params });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString('ascii');
      const m = /Content-Length: *(\d+)/i.exec(header);
      if (!m) throw new Error(`bad header from server: ${header}`);
      const start = headerEnd + 4;
      const end = start + Number(m[1]);
      if (this.buffer.length < end) return;
      const message = JSON.parse(this.buffer.subarray(start, end).toString('utf8')) as {
        id?: number | string;
        method?: string;
        result?: unknown;
        error?: { code: number; message: string };
      };
      this.buffer = this.buffer.subarray(end);
      if (message.method !== undefined) {
        // A request from the server (registerCapability, workDoneProgress/create, ...): accept it.
        if (message.id !== undefined) this.write({ id: message.id, result: message.method === 'workspace/configuration' ? [] : null });
        continue;
      }
      const p = this.pending.get(Number(message.id));
      if (!p) continue;
      this.pending.delete(Number(message.id));
      if (message.error) p.reject(new Error(`${message.error.code}: ${message.error.message}`));
      else p.resolve(message.result);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref()),
  ]);
}

/** Server commands sent by running every client command flow against a fake server. */
async function commandsSentByClientFlows(): Promise<Set<string>> {
  stub.reset();
  stub.folders = ['/w'];
  stub.activeUri = Uri.file('/w/.flox/env/manifest.toml');
  const { ctl, clients } = newController({}, (c: FakeClient) => {
    c.handlers[SERVER.listTargets] = () => [
      { name: 'ok', line: 3, blocked: null },
      { name: 'blocked', line: 9, blocked: 'dirty tree' },
    ];
    for (const id of [SERVER.publish, SERVER.explainBlocked, SERVER.enablePublish]) c.handlers[id] = () => null;
  });
  const disposables = registerCommands(ctl);
  await ctl.start();
  const run = (id: string) => stub.commands.get(id)!() as Promise<unknown>;
  stub.quickPick = (items) => items[0];
  await run(CLIENT.publishTarget);
  stub.quickPick = (items) => items[1];
  await run(CLIENT.publishTarget);
  await run(CLIENT.enablePublish);
  for (const d of disposables) d.dispose();
  ctl.dispose();
  return new Set(clients[0].commandsSent.map((c) => String(c[0])));
}

test('the real server advertises exactly the commands the extension reaches, none twice', async (t) => {
  const missing = serverMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const env = mkdtempSync(path.join(os.tmpdir(), 'floxls-consistency-'));
  const proc = spawn(python, ['-m', 'floxls', 'serve'], {
    cwd: repoRoot,
    env: { ...process.env, HOME: env, XDG_CONFIG_HOME: path.join(env, 'config'), XDG_DATA_HOME: path.join(env, 'data') },
  });
  const rpc = new RpcClient(proc);
  try {
    const init = (await withTimeout(
      rpc.request('initialize', {
        processId: process.pid,
        clientInfo: { name: 'floxls-vscode-consistency-test' },
        rootUri: pathToFileURL(env).toString(),
        workspaceFolders: [{ uri: pathToFileURL(env).toString(), name: 'w' }],
        capabilities: {
          workspace: { executeCommand: { dynamicRegistration: true }, configuration: true, workspaceFolders: true },
          textDocument: { codeLens: { dynamicRegistration: true }, publishDiagnostics: { relatedInformation: true } },
          window: { workDoneProgress: true },
          general: { positionEncodings: ['utf-16'] },
        },
        initializationOptions: { publish: {}, catalog: {}, trusted: true },
      }),
      30_000,
      'initialize',
    )) as { capabilities: { executeCommandProvider?: { commands?: unknown } } };
    rpc.notify('initialized', {});

    const advertised = init.capabilities.executeCommandProvider?.commands;
    assert.ok(Array.isArray(advertised), 'the server advertises executeCommandProvider.commands');
    const serverCommands = advertised as string[];
    assert.equal(new Set(serverCommands).size, serverCommands.length, `duplicates in the server's list: ${serverCommands}`);

    const contributed = pkg.contributes.commands.map((c) => c.command);
    assert.equal(new Set(contributed).size, contributed.length, 'duplicates in package.json contributes.commands');
    const both = contributed.filter((id) => serverCommands.includes(id));
    assert.deepEqual(both, [], 'these ids are both server commands and client commands (registered twice)');

    // Every server command is reachable from the extension, and the extension sends nothing else.
    assert.deepEqual([...serverCommands].sort(), Object.keys(SERVER_COMMAND_ROUTES).sort());
    const sent = await commandsSentByClientFlows();
    for (const id of serverCommands) {
      const route = SERVER_COMMAND_ROUTES[id];
      for (const via of route.clientCommands) assert.ok(contributed.includes(via), `${via} (route of ${id}) is contributed`);
      assert.ok(sent.has(id) || route.codeLens, `${id} is sent by a client command flow or a code lens`);
    }
    for (const id of sent) assert.ok(serverCommands.includes(id), `the client sends ${id}, which the server does not advertise`);

    // The data the quick pick is built from: floxls.listTargets [uri] -> [{name, line, blocked}].
    const manifestDir = path.join(env, '.flox', 'env');
    mkdirSync(manifestDir, { recursive: true });
    const manifest = path.join(manifestDir, 'manifest.toml');
    const text = 'version = 1\n\n[install]\nhello.pkg-path = "hello"\n\n[build.greeting]\ncommand = "mkdir -p $out"\n';
    writeFileSync(manifest, text);
    const uri = pathToFileURL(manifest).toString();
    rpc.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'toml', version: 1, text } });
    const targets = await withTimeout(
      rpc.request('workspace/executeCommand', { command: SERVER.listTargets, arguments: [uri] }),
      30_000,
      'floxls.listTargets',
    );
    assert.ok(Array.isArray(targets), `floxls.listTargets returns an array, got ${JSON.stringify(targets)}`);
    const greeting = (targets as Record<string, unknown>[]).find((x) => x.name === 'greeting');
    assert.ok(greeting, `listTargets names the [build.greeting] target: ${JSON.stringify(targets)}`);
    assert.equal(typeof greeting.line, 'number');
    assert.ok(greeting.blocked === null || typeof greeting.blocked === 'string', 'blocked is a string or null');

    await withTimeout(rpc.request('shutdown', null), 10_000, 'shutdown');
    rpc.notify('exit', null);
  } finally {
    setTimeout(() => proc.kill(), 2000).unref();
    rmSync(env, { recursive: true, force: true });
  }
});
