// Bundles the extension (dist/extension.js) and, with --tests, the unit tests (out/test/*.test.js).
//   node esbuild.mjs            production bundle, minified, no source map (what the .vsix ships)
//   node esbuild.mjs --watch    development bundle with source maps, rebuilt on change
//   node esbuild.mjs --tests    tests bundled against test/vscode-stub.ts in place of `vscode`
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

/** Logs build start/end in the shape the tasks.json background problem matcher expects. */
const watchLog = {
  name: 'watch-log',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const e of result.errors) {
        const loc = e.location;
        if (loc) console.error(`✘ [ERROR] ${e.text}\n    ${loc.file}:${loc.line}:${loc.column}:`);
        else console.error(`✘ [ERROR] ${e.text}`);
      }
      console.log('[watch] build finished');
    });
  },
};

/** Resolves `vscode` to the test stub, so tests run in plain Node. */
const vscodeStub = {
  name: 'vscode-stub',
  setup(build) {
    build.onResolve({ filter: /^vscode$/ }, () => ({ path: path.join(here, 'test', 'vscode-stub.ts') }));
  },
};

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node18', logLevel: 'warning' };

if (tests) {
  const entryPoints = readdirSync(path.join(here, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(here, 'test', f));
  await esbuild.build({
    ...common,
    entryPoints,
    outdir: path.join(here, 'out', 'test'),
    sourcemap: 'inline',
    plugins: [vscodeStub],
  });
} else {
  const options = {
    ...common,
    entryPoints: [path.join(here, 'src', 'extension.ts')],
    outfile: path.join(here, 'dist', 'extension.js'),
    external: ['vscode'],
    minify: !watch,
    sourcemap: watch,
    sourcesContent: false,
    plugins: watch ? [watchLog] : [],
    logLevel: watch ? 'silent' : 'warning',
  };
  if (watch) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  } else {
    rmSync(path.join(here, 'dist', 'extension.js.map'), { force: true }); // left by --watch
    await esbuild.build(options);
  }
}
