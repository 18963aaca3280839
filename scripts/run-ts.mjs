// Runs a TypeScript file once: bundles it with esbuild (native modules external) and executes it.
//   node scripts/run-ts.mjs <file.ts> [args...]
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const [entry, ...rest] = process.argv.slice(2);
const outdir = path.resolve('out/run');
mkdirSync(outdir, { recursive: true });
const outfile = path.join(outdir, path.basename(entry).replace(/\.ts$/, '.js'));
await esbuild.build({
  entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline',
  external: ['vscode', 'sharp', 'onnxruntime-node', 'sqlite3', 'onnx-proto', '@tensorflow/*', '@vladmandic/*', 'playwright-core'],
  logLevel: 'warning',
});
// Ctrl+C reaches the child too (same process group): wait for it to clean up instead of dying first.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
