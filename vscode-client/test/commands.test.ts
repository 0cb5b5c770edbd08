import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import pkg from '../package.json';
import { registerCommands } from '../src/commands';
import { CLIENT, SERVER } from '../src/ids';
import { newController, tick, type FakeClient } from './helpers';
import { stub, Uri, LanguageStatusSeverity } from './vscode-stub';

const MANIFEST = Uri.file('/w/app/.flox/env/manifest.toml');
const TARGETS = [
  { name: 'hello', line: 12, blocked: null },
  { name: 'broken', line: 20, blocked: 'tracked files have uncommitted changes' },
];

function serve(c: FakeClient): void {
  c.handlers[SERVER.listTargets] = () => TARGETS;
  // The shapes floxls/lsp/commands.py answers with (the server shows its own messages).
  c.handlers[SERVER.publish] = (p) => ({ published: true, catalog: 'alice', name: p.arguments[1], version: '1.2.0' });
  c.handlers[SERVER.explainBlocked] = (p) => ({ name: p.arguments[1], blocked: true, findings: [] });
  c.handlers[SERVER.enablePublish] = () => ({ enabled: true, path: '/home/u/.config/flox/flox.toml' });
}

async function setUp() {
  const { ctl, clients } = newController({}, serve);
  const disposables = registerCommands(ctl);
  await ctl.start();
  const run = (id: string, ...args: unknown[]) => stub.commands.get(id)!(...args) as Promise<unknown>;
  const done = () => {
    for (const d of disposables) d.dispose();
    ctl.dispose();
  };
  return { ctl, client: clients[0], run, done };
}

beforeEach(() => {
  stub.reset();
  stub.folders = ['/w'];
});

test('the client registers exactly its contributed commands, never a server command', async () => {
  const { done } = await setUp();
  const contributed = pkg.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual([...stub.commands.keys()].sort(), contributed);
  assert.deepEqual(contributed, Object.values(CLIENT).sort());
  for (const id of Object.values(SERVER)) assert.ok(!stub.commands.has(id), `${id} is the server's`);
  done();
});

test('publish target: listTargets, quick pick, then workspace/executeCommand floxls.publish', async () => {
  const { client, run, ctl, done } = await setUp();
  stub.activeUri = MANIFEST;
  let offered: { label: string; detail?: string }[] = [];
  stub.quickPick = (items) => {
    offered = items as typeof offered;
    return items[0];
  };
  await run(CLIENT.publishTarget);
  const uri = MANIFEST.toString();
  assert.deepEqual(client.commandsSent, [
    [SERVER.listTargets, uri],
    [SERVER.publish, uri, 'hello'],
  ]);
  assert.deepEqual(
    offered.map((o) => [o.label, o.detail]),
    [
      ['$(package) hello', 'Ready to publish'],
      ['$(warning) broken', 'Blocked: tracked files have uncommitted changes'],
    ],
  );
  assert.deepEqual(stub.opened, [uri], 'the manifest is opened so the server has its text');
  assert.match(ctl.status.item.detail ?? '', /last publish: alice\/hello 1\.2\.0/);
  assert.equal(ctl.status.item.severity, LanguageStatusSeverity.Information);
  done();
});

test('picking a blocked target explains why instead of publishing', async () => {
  const { client, run, done } = await setUp();
  stub.activeUri = MANIFEST;
  stub.quickPick = (items) => items[1];
  await run(CLIENT.publishTarget);
  assert.deepEqual(client.commandsSent.map((c) => c[0]), [SERVER.listTargets, SERVER.explainBlocked]);
  assert.deepEqual(stub.messages, [], 'the server shows the explanation itself');
  done();
});

test('with several manifests the user picks one; with none they are told', async () => {
  const { client, run, done } = await setUp();
  const other = Uri.file('/w/lib/.flox/env/manifest.toml');
  stub.files = [MANIFEST, other];
  const asked: string[][] = [];
  stub.quickPick = (items) => {
    const list = items as { label: string }[];
    asked.push(list.map((i) => i.label));
    return asked.length === 1 ? list[1] : undefined; // pick lib, then dismiss the target pick
  };
  await run(CLIENT.publishTarget);
  assert.deepEqual(asked[0], ['app/.flox/env/manifest.toml', 'lib/.flox/env/manifest.toml']);
  assert.deepEqual(client.commandsSent, [[SERVER.listTargets, other.toString()]]);
  stub.files = [];
  await run(CLIENT.publishTarget);
  assert.match(stub.messages.at(-1)?.text ?? '', /no \.flox\/env\/manifest\.toml/);
  done();
});

test('untrusted workspace: publish is refused with the reason and nothing is sent', async () => {
  stub.trusted = false;
  const { client, ctl, run, done } = await setUp();
  stub.activeUri = MANIFEST;
  stub.quickPick = (items) => items[0];
  await run(CLIENT.publishTarget, MANIFEST, 'hello');
  assert.equal(client.requests.length, 0);
  assert.match(stub.messages[0].text, /untrusted workspace: it runs the build commands/);
  assert.deepEqual(stub.messages[0].items, ['Manage Workspace Trust']);
  // A code lens runs the server command through the middleware: refused too.
  let sent = false;
  const result = await client.clientOptions.middleware!.executeCommand!(SERVER.publish, [MANIFEST.toString(), 'hello'], () => {
    sent = true;
  });
  assert.equal(sent, false);
  assert.equal(result, undefined);
  assert.match(ctl.status.item.detail ?? '', /publishing disabled: untrusted workspace/);
  // Diagnostics-only commands still go through.
  await client.clientOptions.middleware!.executeCommand!(SERVER.listTargets, [MANIFEST.toString()], () => {
    sent = true;
  });
  assert.equal(sent, true);
  done();
});

test('a code lens publish through the middleware updates the status item', async () => {
  const { ctl, client, done } = await setUp();
  const mw = client.clientOptions.middleware!.executeCommand!;
  const uri = 'file:///w/.flox/env/manifest.toml';
  await mw(SERVER.publish, [uri, 'hello'], () => ({ published: true, catalog: 'alice', name: 'hello', version: '2.0', storeUrl: 's3://c' }));
  assert.match(ctl.status.item.detail ?? '', /last publish: alice\/hello 2\.0 → s3:\/\/c/);
  assert.equal(ctl.status.item.severity, LanguageStatusSeverity.Information);
  // A failed publish: the server shows the error; the status item keeps it.
  await mw(SERVER.publish, [uri, 'hello'], () => ({ published: false, error: 'HEAD is not pushed', fix: 'git push' }));
  assert.match(ctl.status.item.detail ?? '', /last publish of hello failed .*HEAD is not pushed \(fix: git push\)/);
  assert.equal(ctl.status.item.severity, LanguageStatusSeverity.Warning);
  assert.deepEqual(stub.messages, []);
  // A refusal (RequestFailed): the server told the user; no second pop-up.
  await mw(SERVER.publish, [uri, 'hello'], () => {
    throw Object.assign(new Error('hello is already publishing'), { code: -32803 });
  });
  assert.deepEqual(stub.messages, []);
  // Anything else (e.g. the connection died) is shown by the client.
  await mw(SERVER.publish, [uri, 'hello'], () => {
    throw new Error('Connection got disposed.');
  });
  assert.deepEqual(stub.messages, [{ level: 'error', text: 'Publishing hello failed: Connection got disposed.', items: ['Show Log'] }]);
  done();
});

test('enable publish runs the server command floxls.enablePublish with no arguments', async () => {
  const { client, run, done } = await setUp();
  await run(CLIENT.enablePublish);
  assert.deepEqual(client.commandsSent, [[SERVER.enablePublish]]);
  assert.ok(stub.log.includes('[info] publish feature enabled in /home/u/.config/flox/flox.toml'));
  done();
});

test('restart and show log', async () => {
  const { run, done } = await setUp();
  await run(CLIENT.showLog);
  assert.ok(stub.log.includes('[show]'));
  assert.equal(await run(CLIENT.restart), true);
  assert.ok(stub.log.some((l) => l.includes('restarting the floxls server')));
  done();
});

test('commands say so when the server is not running', async () => {
  const { ctl, client, run, done } = await setUp();
  await ctl.stop();
  stub.reply = () => undefined;
  await run(CLIENT.enablePublish);
  assert.equal(client.requests.length, 0);
  assert.deepEqual(stub.messages.at(-1)?.items, ['Restart', 'Show Log']);
  assert.match(stub.messages.at(-1)?.text ?? '', /not running/);
  await tick();
  done();
});

test('every onLanguage activation names a language VS Code knows: toml is not built in', () => {
  // VS Code ships no TOML language; without a contributed "toml" id, "onLanguage:toml" only
  // fires when some other TOML extension happens to be installed.
  const contributed = (pkg.contributes.languages ?? []).map((l) => l.id);
  const onLanguage = pkg.activationEvents.filter((e) => e.startsWith('onLanguage:')).map((e) => e.slice(11));
  assert.ok(onLanguage.includes('toml'), 'opening a TOML file activates the extension');
  for (const id of onLanguage) assert.ok(contributed.includes(id), `language ${id} is contributed`);
  const toml = pkg.contributes.languages.find((l) => l.id === 'toml');
  assert.ok(toml?.extensions.includes('.toml'), 'manifest.toml files get the toml language id');
});
