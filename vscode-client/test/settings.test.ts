import assert from 'node:assert/strict';
import * as os from 'node:os';
import { beforeEach, test } from 'node:test';
import { DOCUMENT_SELECTOR } from '../src/ids';
import { readSettings, serverLaunch, serverSettings, splitCommand } from '../src/settings';
import { newController, tick } from './helpers';
import { stub } from './vscode-stub';

beforeEach(() => stub.reset());

test('default server command comes from package.json: floxls serve over stdio', () => {
  assert.deepEqual(serverLaunch(readSettings(), {}), {
    kind: 'process',
    command: 'floxls',
    args: ['serve'],
    source: 'server.command',
  });
});

test('server.command as a string is split on spaces, with quotes', () => {
  stub.config['floxls.server.command'] = `"/opt/my tools/floxls" serve  --verbose`;
  const launch = serverLaunch(readSettings(), {});
  assert.deepEqual(launch, {
    kind: 'process',
    command: '/opt/my tools/floxls',
    args: ['serve', '--verbose'],
    source: 'server.command',
  });
  assert.deepEqual(splitCommand(`a 'b c'd ""`), ['a', 'b cd', '']);
});

test('an empty server.command falls back to the default', () => {
  stub.config['floxls.server.command'] = [];
  assert.deepEqual(readSettings().serverCommand, ['floxls', 'serve']);
});

test('server.pythonPath wins and runs <python> -m floxls serve, with ~ expanded', () => {
  stub.config['floxls.server.command'] = ['other', 'serve'];
  stub.config['floxls.server.pythonPath'] = '~/venv/bin/python';
  assert.deepEqual(serverLaunch(readSettings(), {}), {
    kind: 'process',
    command: `${os.homedir()}/venv/bin/python`,
    args: ['-m', 'floxls', 'serve'],
    source: 'server.pythonPath',
  });
});

test('FLOXLS_SERVER_TCP connects to a running `floxls serve --tcp`', () => {
  assert.deepEqual(serverLaunch(readSettings(), { FLOXLS_SERVER_TCP: '127.0.0.1:2087' }), {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 2087,
  });
  assert.deepEqual(serverLaunch(readSettings(), { FLOXLS_SERVER_TCP: '2088' }), { kind: 'tcp', host: '127.0.0.1', port: 2088 });
  assert.throws(() => serverLaunch(readSettings(), { FLOXLS_SERVER_TCP: 'nope' }), /HOST:PORT/);
});

test('server settings: the contract shape, unset values sent as "", paths expanded', () => {
  assert.deepEqual(serverSettings(readSettings(), true), {
    publish: { storeUrl: '', signingKey: '' },
    catalog: { url: '' },
    trusted: true,
  });
  stub.config['floxls.publish.storeUrl'] = ' s3://cache?region=eu-west-1 ';
  stub.config['floxls.publish.signingKey'] = '${workspaceFolder}/keys/cache.sec';
  stub.config['floxls.catalog.url'] = 'http://127.0.0.1:9000';
  assert.deepEqual(serverSettings(readSettings(), false, '/w'), {
    publish: { storeUrl: 's3://cache?region=eu-west-1', signingKey: '/w/keys/cache.sec' },
    catalog: { url: 'http://127.0.0.1:9000' },
    trusted: false,
  });
});

test('client options: manifest selector, one log channel, initializationOptions with trust', async () => {
  stub.folders = ['/w'];
  stub.config['floxls.publish.storeUrl'] = 'file:///tmp/cache';
  stub.trusted = false;
  const { ctl, clients } = newController();
  assert.equal(await ctl.start(), true);
  const options = clients[0].clientOptions;
  assert.deepEqual(options.documentSelector, DOCUMENT_SELECTOR);
  assert.deepEqual(DOCUMENT_SELECTOR, [{ scheme: 'file', pattern: '**/.flox/env/manifest.toml' }]);
  assert.equal(options.outputChannel, options.traceOutputChannel);
  const init = (options.initializationOptions as () => unknown)();
  assert.deepEqual(init, { publish: { storeUrl: 'file:///tmp/cache', signingKey: '' }, catalog: { url: '' }, trusted: false });
  assert.equal(typeof options.middleware?.executeCommand, 'function');
  ctl.dispose();
});

test('publish/catalog changes go to the server without a restart; cleared ones as ""', async () => {
  stub.config['floxls.publish.storeUrl'] = 's3://old';
  const { ctl, clients } = newController();
  await ctl.start();
  stub.config['floxls.publish.storeUrl'] = '';
  stub.changeConfig({ 'floxls.publish.signingKey': '/keys/k.sec', 'floxls.catalog.url': 'https://c.example' });
  await tick();
  assert.equal(clients.length, 1, 'no new client');
  assert.equal(clients[0].stopped, 0);
  assert.deepEqual(clients[0].notifications, [
    {
      method: 'workspace/didChangeConfiguration',
      params: {
        settings: { publish: { storeUrl: '', signingKey: '/keys/k.sec' }, catalog: { url: 'https://c.example' }, trusted: true },
      },
    },
  ]);
  ctl.dispose();
});

test('server.* changes restart the server with the new command', async () => {
  const { ctl, clients } = newController();
  await ctl.start();
  stub.changeConfig({ 'floxls.server.pythonPath': '/usr/bin/python3' });
  await tick(10);
  assert.equal(clients.length, 2);
  assert.equal(clients[0].stopped, 1);
  assert.equal(clients[1].started, 1);
  assert.deepEqual(ctl.launch(), {
    kind: 'process',
    command: '/usr/bin/python3',
    args: ['-m', 'floxls', 'serve'],
    source: 'server.pythonPath',
  });
  assert.equal(clients[0].notifications.length, 0);
  ctl.dispose();
});

test('granting workspace trust restarts the server so it learns trusted: true', async () => {
  stub.trusted = false;
  const { ctl, clients } = newController();
  await ctl.start();
  stub.trusted = true;
  stub.trustEmitter.fire();
  await tick(10);
  assert.equal(clients.length, 2);
  const init = (clients[1].clientOptions.initializationOptions as () => { trusted: boolean })();
  assert.equal(init.trusted, true);
  ctl.dispose();
});

test('a restart while the server is still starting stops the first client once it is up', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { ctl, clients } = newController({}, (c) => {
    if (clients.length === 0) c.startGate = gate;
  });
  const first = ctl.start();
  await tick();
  assert.equal(ctl.state, 'starting');
  const restarted = ctl.restart(); // e.g. floxls.server.* changed, or trust granted, during start-up
  await tick();
  release();
  assert.equal(await first, false, 'the superseded start does not report success');
  assert.equal(await restarted, true);
  assert.equal(clients.length, 2);
  assert.equal(clients[0].stopped, 1, 'the first client (and its server commands) is stopped');
  assert.equal(clients[1].started, 1);
  assert.equal(ctl.state, 'running');
  assert.ok(!stub.log.some((l) => l.includes("can't be stopped")), stub.log.join('\n'));
  ctl.dispose();
});
