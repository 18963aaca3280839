// Bundles the extension host code, the indexing worker, the CLI, the webview and the
// model converter; then builds the ONNX models when they are missing or stale.
//   node esbuild.mjs [--production] [--watch] [--no-models] [--only=cli,extension,...]
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const args = new Set(process.argv.slice(2));
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const production = args.has('--production');
const watch = args.has('--watch');

// Native modules stay outside the bundle: they load their .node binaries relative to their own package.
const external = ['vscode', 'sharp', 'onnxruntime-node', 'sqlite3'];

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external,
  logLevel: 'warning',
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/main.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { 'index-worker': 'src/engine/index/worker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: { 'build-models': 'models/convert/build.ts' }, outdir: 'dist', external: [...external, 'onnx-proto'] },
  {
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    entryPoints: { webview: 'src/webview/main.ts' },
    outdir: 'dist',
    loader: { '.css': 'css' },
    logLevel: 'warning',
  },
]
  .filter((b) => Object.values(b.entryPoints).every((p) => existsSync(p)))
  .filter((b) => !only || Object.keys(b.entryPoints).some((name) => only.includes(name)));

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  if (!args.has('--no-models') && existsSync('dist/build-models.js')) {
    const r = spawnSync(process.execPath, ['dist/build-models.js'], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
