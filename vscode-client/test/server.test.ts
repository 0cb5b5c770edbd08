import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeEach, test } from 'node:test';
import { explainStartFailure } from '../src/server';
import type { Launch } from '../src/settings';
import { newController } from './helpers';
import { stub, LanguageStatusSeverity } from './vscode-stub';

beforeEach(() => stub.reset());

const floxls: Launch = { kind: 'process', command: 'floxls', args: ['serve'], source: 'server.command' };
const python: Launch = { kind: 'process', command: '/usr/bin/python3', args: ['-m', 'floxls', 'serve'], source: 'server.pythonPath' };
const enoent = Object.assign(new Error('spawn floxls ENOENT'), { code: 'ENOENT' });

test('not installed: tells to pip install floxls or set pythonPath', () => {
  const f = explainStartFailure(floxls, { error: enoent, stderr: '', exitCode: null });
  assert.match(f.message, /not installed: "floxls" was not found on PATH/);
  assert.match(f.fix, /pip install floxls/);
  assert.match(f.fix, /floxls\.server\.pythonPath/);
});

test('wrong interpreter: module not found names the interpreter and the fix', () => {
  const f = explainStartFailure(python, {
    error: new Error('Connection closed'),
    stderr: '/usr/bin/python3: No module named floxls\n',
    exitCode: 1,
  });
  assert.match(f.message, /"\/usr\/bin\/python3" cannot import floxls/);
  assert.match(f.fix, /\/usr\/bin\/python3 -m pip install floxls/);
});

test('other exits quote the last stderr line', () => {
  const f = explainStartFailure(floxls, { error: new Error('x'), stderr: 'Traceback...\nImportError: boom\n', exitCode: 1 });
  assert.match(f.message, /exited with code 1 while starting: ImportError: boom/);
});

test('TCP: connection refused says how to start the server', () => {
  const f = explainStartFailure({ kind: 'tcp', host: '127.0.0.1', port: 2087 }, {
    error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
    stderr: '',
    exitCode: null,
  });
  assert.match(f.fix, /floxls serve --tcp 127\.0\.0\.1:2087/);
});

test('a real spawn of a missing interpreter fails with a clear message, no restart loop', async () => {
  stub.config['floxls.server.pythonPath'] = '/nonexistent/bin/python3';
  const { ctl, clients } = newController({}, (c) => (c.realSpawn = true));
  assert.equal(await ctl.start(), false);
  assert.equal(clients.length, 1);
  assert.equal(ctl.state, 'failed');
  assert.equal(ctl.status.item.severity, LanguageStatusSeverity.Error);
  const shown = stub.messages.find((m) => m.level === 'error');
  assert.ok(shown, 'an error message is shown');
  assert.match(shown.text, /"\/nonexistent\/bin\/python3" \(floxls\.server\.pythonPath\) does not exist/);
  assert.deepEqual(shown.items, ['Open Settings', 'Show Log', 'Retry']);
  ctl.dispose();
});

test('a real interpreter without floxls is reported as the wrong interpreter', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'floxls-vscode-'));
  const fake = path.join(dir, 'python3');
  writeFileSync(fake, `#!/bin/sh\necho "$0: No module named floxls" >&2\nexit 1\n`);
  chmodSync(fake, 0o755);
  stub.config['floxls.server.pythonPath'] = fake;
  const { ctl } = newController({}, (c) => (c.realSpawn = true));
  assert.equal(await ctl.start(), false);
  const shown = stub.messages.find((m) => m.level === 'error');
  assert.ok(shown);
  assert.match(shown.text, /cannot import floxls: it is not the interpreter floxls is installed in/);
  assert.match(shown.text, new RegExp(`${fake.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} -m pip install floxls`));
  ctl.dispose();
});
