/**
 * glimpse: the command-line front of the face engine (the same code the extension runs).
 *   glimpse faces <folder-or-image> [--json]
 *   glimpse search <query-image> <album-folder> [--threshold T] [--json]
 *   glimpse eval [dataset-dir] [--dump file.json]
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { analyzeFiles, type FileResult } from '../engine/batch';
import type { EmbedderId } from '../engine/embed';
import { findImages } from '../engine/files';
import { FaceEngine, type EngineOptions } from '../engine/pipeline';
import { defaultThreshold } from '../engine/thresholds';
import type { Face } from '../engine/types';
import { scoreDump, type Dump } from '../eval/score';
import { numberFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args';

const USAGE = `usage:
  glimpse faces <folder-or-image> [--json]               faces, boxes, landmarks and embeddings of every photo
  glimpse search <query-image> <album-folder> [--threshold T] [--json]
                                                         photos holding a face like the query's largest face
  glimpse eval [dataset-dir] [--dump file.json]          accuracy and speed on a labelled set (default ../shared/eval)
options: --embedder mobilefacenet|dlib  --threads N  --min-face PX  --max-side PX  --max-bytes N  --no-rotations  --quiet`;

const VALUED = ['threshold', 'embedder', 'threads', 'min-face', 'max-side', 'max-bytes', 'dump', 'limit'];

function engineOptions(args: ParsedArgs): EngineOptions {
  const embedder = stringFlag(args, 'embedder') ?? 'mobilefacenet';
  if (embedder !== 'mobilefacenet' && embedder !== 'dlib') throw new UsageError('--embedder is mobilefacenet or dlib');
  return {
    embedder: embedder as EmbedderId,
    threads: numberFlag(args, 'threads'),
    minFace: numberFlag(args, 'min-face'),
    maxSide: numberFlag(args, 'max-side'),
    maxBytes: numberFlag(args, 'max-bytes'),
    tryRotations: !args.flags.has('no-rotations'),
  };
}

/** A folder's images (relative paths), or a single image given as a file. */
async function resolveInput(target: string): Promise<{ root: string; files: string[] }> {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new UsageError(`no such file or folder: ${target}`);
  }
  if (st.isDirectory()) return { root: target, files: await findImages(target) };
  return { root: path.dirname(target), files: [path.basename(target)] };
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const r2 = (x: number) => Math.round(x * 100) / 100;

function faceJson(f: Face): object {
  return {
    box: f.box.map(r2),
    score: r4(f.score),
    landmarks: f.landmarks.map(([x, y]) => [r2(x), r2(y)]),
    embedding: Array.from(f.embedding, (v) => Math.round(v * 1e6) / 1e6),
  };
}

class Progress {
  private last = 0;
  constructor(private readonly total: number, private readonly quiet: boolean) {}
  tick(done: number, what: string): void {
    if (this.quiet || !process.stderr.isTTY && done !== this.total && done % 100 !== 0) return;
    const now = Date.now();
    if (done !== this.total && now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r${done}/${this.total} ${what.slice(-60).padEnd(60)}${done === this.total ? '\n' : ''}`);
  }
}

async function runFaces(engine: FaceEngine, root: string, files: string[], quiet: boolean): Promise<{ dump: Dump; results: FileResult[]; seconds: number }> {
  const progress = new Progress(files.length, quiet);
  const dump: Dump = { system: engine.system, files: {} };
  const results: FileResult[] = [];
  const t0 = performance.now();
  let done = 0;
  for await (const r of analyzeFiles(engine, root, files)) {
    results.push(r);
    dump.files[r.file] = r.result
      ? { width: r.result.width, height: r.result.height, faces: r.result.faces.map(faceJson) as Dump['files'][string]['faces'] }
      : { faces: [], error: r.error?.message ?? 'failed' };
    progress.tick(++done, r.file);
  }
  return { dump, results, seconds: (performance.now() - t0) / 1000 };
}

async function cmdFaces(args: ParsedArgs): Promise<void> {
  const [target] = args.positional;
  if (!target) throw new UsageError('faces needs a folder or an image');
  const { root, files } = await resolveInput(target);
  const engine = await FaceEngine.create(engineOptions(args));
  const { dump, results, seconds } = await runFaces(engine, root, files, args.flags.has('quiet'));
  if (args.flags.has('json')) {
    process.stdout.write(JSON.stringify(dump) + '\n');
  } else {
    for (const r of results) {
      if (r.error) console.log(`${r.file}: error: ${r.error.message}`);
      else console.log(`${r.file}: ${r.result!.faces.length} face(s) ${r.result!.faces.map((f) => `[${f.box.map(Math.round).join(',')}] ${f.score.toFixed(3)}`).join('  ')}`);
    }
  }
  const faces = results.reduce((a, r) => a + (r.result?.faces.length ?? 0), 0);
  if (!args.flags.has('quiet')) process.stderr.write(`${files.length} photos, ${faces} faces, ${seconds.toFixed(1)} s (${(files.length / seconds).toFixed(1)} photos/s)\n`);
}

async function cmdSearch(args: ParsedArgs): Promise<void> {
  const [query, album] = args.positional;
  if (!query || !album) throw new UsageError('search needs a query image and an album folder');
  const opts = engineOptions(args);
  const engine = await FaceEngine.create(opts);
  const threshold = numberFlag(args, 'threshold') ?? defaultThreshold(engine.embedder.id);
  const q = await engine.analyzeFile(query);
  if (!q.faces.length) throw new UsageError(`no face found in ${query}`);
  const probe = q.faces.reduce((a, f) => (f.box[2] * f.box[3] > a.box[2] * a.box[3] ? f : a));
  const { root, files } = await resolveInput(album);
  const { results } = await runFaces(engine, root, files, args.flags.has('quiet'));
  const matches: { file: string; score: number; box: number[] }[] = [];
  for (const r of results) {
    let best: { score: number; box: number[] } | undefined;
    for (const f of r.result?.faces ?? []) {
      let s = 0;
      for (let i = 0; i < f.embedding.length; i++) s += f.embedding[i] * probe.embedding[i];
      if (s >= threshold && (!best || s > best.score)) best = { score: s, box: f.box };
    }
    if (best) matches.push({ file: r.file, ...best });
  }
  matches.sort((a, b) => b.score - a.score);
  if (args.flags.has('json')) {
    process.stdout.write(JSON.stringify({ system: engine.system, query, threshold, matches: matches.map((m) => ({ ...m, score: r4(m.score), box: m.box.map(r2) })) }) + '\n');
  } else {
    for (const m of matches) console.log(`${m.score.toFixed(3)}  ${m.file}  [${m.box.map(Math.round).join(', ')}]`);
    process.stderr.write(`${matches.length} of ${files.length} photos match at threshold ${threshold}\n`);
  }
}

async function cmdEval(args: ParsedArgs): Promise<void> {
  const dir = args.positional[0] ?? path.resolve(__dirname, '..', '..', 'shared', 'eval');
  try {
    statSync(path.join(dir, 'manifest.json'));
  } catch {
    throw new UsageError(`no labelled dataset at ${dir} (give its folder: glimpse eval <dataset-dir>)`);
  }
  const engine = await FaceEngine.create(engineOptions(args));
  const { root, files } = await resolveInput(dir);
  const { dump, results, seconds } = await runFaces(engine, root, files, args.flags.has('quiet'));
  const dumpPath = stringFlag(args, 'dump');
  if (dumpPath) writeFileSync(dumpPath, JSON.stringify(dump));
  const scores = scoreDump(dir, dump);
  const decodeMs = results.reduce((a, r) => a + r.decodeMs, 0);
  const analyzeMs = results.reduce((a, r) => a + r.analyzeMs, 0);
  const speed = { photos_per_s: r2(files.length / seconds), ms_per_photo: r2((seconds * 1000) / files.length), decode_ms_per_photo: r2(decodeMs / files.length), analyze_ms_per_photo: r2(analyzeMs / files.length), failed: results.filter((r) => r.error).length };
  console.log(JSON.stringify({ ...scores, ...speed }));
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const args = parseArgs(rest, VALUED);
  switch (cmd) {
    case 'faces': return cmdFaces(args);
    case 'search': return cmdSearch(args);
    case 'eval': return cmdEval(args);
    case undefined: case 'help': case '--help': case '-h':
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

main().catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`glimpse: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`glimpse: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
