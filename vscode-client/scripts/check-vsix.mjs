// Packages the extension with vsce and checks that the .vsix holds the bundle only:
// dist/extension.js plus package.json, README, LICENSE and the icon (and vsce's two manifests).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(here, 'out', 'floxls.vsix');
mkdirSync(path.dirname(out), { recursive: true });
const vsce = path.join(here, 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--out', out], {
  cwd: here,
  stdio: ['ignore', 'inherit', 'inherit'],
});

/** Entries of a zip file, read from its central directory. */
function zipEntries(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = () => {
      const raw = buf.subarray(dataStart, dataStart + compressed);
      return method === 0 ? raw : inflateRawSync(raw);
    };
    entries.push({ name, size, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

const entries = zipEntries(readFileSync(out));
const names = entries.map((e) => e.name).sort();
const allowed = [
  '[Content_Types].xml',
  'extension.vsixmanifest',
  'extension/LICENSE.txt',
  'extension/dist/extension.js',
  'extension/icon.png',
  'extension/package.json',
  'extension/readme.md',
];
console.log(`${path.relative(here, out)}: ${statSync(out).size} bytes`);
for (const e of entries) console.log(`  ${String(e.size).padStart(8)}  ${e.name}`);
const unexpected = names.filter((n) => !allowed.includes(n));
const missing = allowed.filter((n) => !names.includes(n));
if (unexpected.length || missing.length) {
  console.error(`the .vsix must hold the bundle only; unexpected: ${unexpected.join(', ') || '-'}; missing: ${missing.join(', ') || '-'}`);
  process.exit(1);
}
const bundle = entries.find((e) => e.name === 'extension/dist/extension.js').data().toString('utf8');
const manifest = JSON.parse(entries.find((e) => e.name === 'extension/package.json').data().toString('utf8'));
const problems = [];
if (manifest.main !== './dist/extension.js') problems.push(`main is ${manifest.main}`);
if (/require\(["']vscode-languageclient/.test(bundle)) problems.push('the bundle requires vscode-languageclient at run time');
if (!/require\(["']vscode["']\)/.test(bundle)) problems.push('the bundle does not load vscode as an external');
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('vsix ok: the bundle, package.json, README, LICENSE and icon only');
