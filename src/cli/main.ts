/**
 * glimpse: the command-line front of the face engine (the same code the extension runs).
 *   glimpse faces <folder-or-image> [--json]
 *   glimpse index <album-folder> [--cache dir] [--json]
 *   glimpse search <query-image> <album-folder> [--cache dir] [--threshold T] [--json]
 *   glimpse eval [dataset-dir] [--dump file.json]
 */
import { createHash } from 'node:crypto';
import fg from 'fast-glob';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import path from 'node:path';
import { analyzeFiles, type FileResult } from '../engine/batch';
import type { EmbedderId } from '../engine/embed';
import { decodeImage, decodeOptionsOf, ImageError, readImageFile } from '../engine/decode';
import { DECODABLE_EXTENSIONS, findImages, IMAGE_EXTENSIONS } from '../engine/files';
import { AlbumIndex, type IndexStats } from '../engine/index/album';
import { acquireLock, albumLockName } from '../engine/index/lock';
import { CACHE_FILE, FaceStore, StoreError } from '../engine/index/store';
import { FaceEngine, systemId, type DetectorId, type EngineOptions } from '../engine/pipeline';
import { defaultThreshold } from '../engine/thresholds';
import type { Face } from '../engine/types';
import { scoreDump, type Dump } from '../eval/score';
import { InputError, numberFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args';

const USAGE = `usage:
  glimpse faces <folder-or-image> [--json]               faces, boxes, landmarks and embeddings of every photo
  glimpse index <album-folder> [--cache DIR] [--json]    index the album's faces into a cache (only new or changed photos run the models)
  glimpse search <query-image> <album-folder> [--cache DIR] [--threshold T] [--json]
                                                         photos holding a face like the query's largest face (indexes first)
  glimpse eval [dataset-dir] [--dump file.json]          accuracy and speed on a labelled set (default ../shared/eval)
The cache (one per machine, shared by every album) defaults to $XDG_CACHE_HOME/glimpse or ~/.cache/glimpse.
options: --embedder mobilefacenet|dlib  --detector mediapipe|mtcnn  --threads N (default: cores, up to 4)  --min-face PX  --max-side PX  --max-bytes N  --no-rotations  --quiet  --progress (a line per photo)`;

const VALUED = ['threshold', 'embedder', 'detector', 'threads', 'min-face', 'max-side', 'max-bytes', 'dump', 'limit', 'cache'];

function engineOptions(args: ParsedArgs): EngineOptions {
  const embedder = stringFlag(args, 'embedder') ?? 'mobilefacenet';
  if (embedder !== 'mobilefacenet' && embedder !== 'dlib') throw new UsageError('--embedder is mobilefacenet or dlib');
  const detector = stringFlag(args, 'detector');
  if (detector !== undefined && detector !== 'mtcnn' && detector !== 'mediapipe') throw new UsageError('--detector is mediapipe or mtcnn');
  return {
    embedder: embedder as EmbedderId,
    detector: detector as DetectorId | undefined,
    // A foreground job may use the machine (measured on 2 idle cores: 2 threads index 1.3x faster);
    // the extension's background indexing keeps to one.
    threads: numberFlag(args, 'threads') ?? Math.min(4, availableParallelism()),
    minFace: numberFlag(args, 'min-face'),
    maxSide: numberFlag(args, 'max-side'),
    maxBytes: numberFlag(args, 'max-bytes'),
    tryRotations: !args.flags.has('no-rotations'),
  };
}

/**
 * Files of `folder` with a photo extension that the installed sharp cannot decode (HEIC/HEIF with
 * the prebuilt sharp): left out of the album, and said so.
 */
async function leftOutForFormat(folder: string): Promise<string[]> {
  const undecodable = IMAGE_EXTENSIONS.filter((e) => !DECODABLE_EXTENSIONS.includes(e));
  if (!undecodable.length) return [];
  const files = await fg(`**/*.{${undecodable.join(',')}}`, { cwd: folder, caseSensitiveMatch: false, followSymbolicLinks: false, onlyFiles: true, suppressErrors: true, ignore: ['**/node_modules/**'] });
  return files.sort();
}

function sayLeftOut(folder: string, quiet: boolean): Promise<void> {
  return leftOutForFormat(folder).then((files) => {
    if (!quiet) for (const f of files) process.stderr.write(`${f}: left out: this build of sharp cannot decode ${path.extname(f).slice(1).toUpperCase()} photos (HEIC/HEIF)\n`);
  });
}

/** A folder's images (relative paths), or a single image given as a file. */
async function resolveInput(target: string, quiet = false): Promise<{ root: string; files: string[] }> {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new UsageError(`no such file or folder: ${target}`);
  }
  if (st.isDirectory()) {
    await sayLeftOut(target, quiet);
    return { root: target, files: await findImages(target) };
  }
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

/** Progress on stderr: a live line on a terminal, a line every 100 photos otherwise, every photo with --progress. */
class Progress {
  private last = 0;
  static everyPhoto = false;
  constructor(private total: number, private readonly quiet: boolean) {}
  tick(done: number, what: string, total = this.total): void {
    this.total = total;
    if (Progress.everyPhoto) {
      process.stderr.write(`${done}/${total} ${what}\n`);
      return;
    }
    if (this.quiet || (!process.stderr.isTTY && done !== total && done % 100 !== 0)) return;
    const now = Date.now();
    if (done !== total && now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r${done}/${total} ${what.slice(-60).padEnd(60)}${done === total ? '\n' : ''}`);
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
  const { root, files } = await resolveInput(target, args.flags.has('quiet'));
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

const cacheBase = () => process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');

/** The face store of this machine: one for every album (a sub-folder or a copy of an indexed album costs nothing). */
function defaultCacheDir(): string {
  return path.join(cacheBase(), 'glimpse');
}

/** Where an older glimpse kept this album's own cache (its faces are copied into the shared store, then it is removed). */
function legacyCacheDir(album: string): string {
  const abs = path.resolve(album);
  const tag = createHash('sha256').update(abs).digest('hex').slice(0, 12);
  return path.join(cacheBase(), 'glimpse', `${path.basename(abs) || 'album'}-${tag}`);
}

/** Opens the album's index with the album's writer lock, brings it up to date, and hands it over. */
async function withUpdatedIndex<T>(args: ParsedArgs, album: string, use: (index: AlbumIndex, stats: IndexStats) => Promise<T>): Promise<T> {
  try {
    if (!statSync(album).isDirectory()) throw new UsageError(`not a folder: ${album}`);
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`no such folder: ${album}`);
  }
  const quiet = args.flags.has('quiet');
  const given = stringFlag(args, 'cache');
  const cache = given ?? defaultCacheDir();
  const say = (m: string) => quiet || process.stderr.write(`${m}\n`);
  const opts = engineOptions(args);
  const store = await FaceStore.open(cache, say);
  let index: AlbumIndex | undefined;
  let lock;
  try {
    const legacy = legacyCacheDir(album);
    if (!given && existsSync(legacy)) {
      const copied = await store.importLegacy(path.join(legacy, CACHE_FILE));
      if (copied) say(`glimpse: copied ${copied.faces} photos' faces from the old cache ${legacy} into ${cache}; removed it`);
      rmSync(legacy, { recursive: true, force: true });
    }
    const lockName = albumLockName([album], systemId(opts));
    lock = await acquireLock(path.join(cache, 'locks'), lockName, () => say(`glimpse: another process is indexing ${album}; waiting for it`));
    index = await AlbumIndex.open(store, [{ path: album }], opts, say);
    await sayLeftOut(album, quiet);
    const progress = new Progress(0, quiet);
    const stats = await index.update({
      onProgress: (p) => progress.tick(p.done, path.basename(p.file ?? ''), p.total),
      onFailed: (p) => say(`${p.rel}: ${p.error?.message}`),
      onUnreadable: (dir, m) => say(`${dir}: cannot read folder (${m})`),
    });
    return await use(index, stats);
  } finally {
    if (index) await index.close();
    else await store.close();
    lock?.release();
  }
}

async function cmdIndex(args: ParsedArgs): Promise<void> {
  const [album] = args.positional;
  if (!album) throw new UsageError('index needs an album folder');
  await withUpdatedIndex(args, album, async (_index, stats) => {
    const line = { ...stats, seconds: r2(stats.seconds) };
    if (args.flags.has('json')) process.stdout.write(JSON.stringify(line) + '\n');
    else console.log(`${stats.files} photos (${stats.computed} computed, ${stats.reused} from the cache, ${stats.removed} removed, ${stats.failed} failed), ${stats.faces} faces, ${line.seconds} s`);
  });
}

/** The query must be a photo sharp can read: said in one line before any indexing. */
async function checkQuery(query: string, opts: EngineOptions): Promise<void> {
  let st;
  try {
    st = statSync(query);
  } catch {
    throw new InputError(`no such file: ${query}`);
  }
  if (st.isDirectory()) throw new InputError(`${query} is a folder; search needs a photo of the person to look for`);
  try {
    await decodeImage(await readImageFile(query, opts.maxBytes), decodeOptionsOf(opts));
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(`the query ${query} cannot be used: ${e.message}`);
    throw e;
  }
}

async function cmdSearch(args: ParsedArgs): Promise<void> {
  const [query, album] = args.positional;
  if (!query || !album) throw new UsageError('search needs a query image and an album folder');
  await checkQuery(query, engineOptions(args));
  await withUpdatedIndex(args, album, async (index) => {
    const threshold = numberFlag(args, 'threshold') ?? defaultThreshold(engineOptions(args).embedder ?? 'mobilefacenet');
    const q = await index.facesOf(query);
    if (!q.faces.length) throw new InputError(`no face found in ${query}`);
    const probe = q.faces.reduce((a, f) => (f.box[2] * f.box[3] > a.box[2] * a.box[3] ? f : a));
    const matches = (await index.search(probe.embedding, threshold)).map((m) => ({ file: m.photo.rel, score: m.score, box: m.photo.faces[m.face].box }));
    if (args.flags.has('json')) {
      process.stdout.write(JSON.stringify({ system: index.system, query, threshold, matches: matches.map((m) => ({ ...m, score: r4(m.score), box: m.box.map(r2) })) }) + '\n');
    } else {
      for (const m of matches) console.log(`${m.score.toFixed(3)}  ${m.file}  [${m.box.map(Math.round).join(', ')}]`);
      process.stderr.write(`${matches.length} of ${index.size} photos match at threshold ${threshold}\n`);
    }
  });
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
  Progress.everyPhoto = args.flags.has('progress');
  switch (cmd) {
    case 'faces': return cmdFaces(args);
    case 'index': return cmdIndex(args);
    case 'search': return cmdSearch(args);
    case 'eval': return cmdEval(args);
    case undefined: case 'help': case '--help': case '-h':
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

/** One line for the user; the stack only when asked for (GLIMPSE_DEBUG=1) or for a bug. */
function oneLine(m: string): string {
  return m.replace(/\s*\n\s*/g, ' ');
}

main().catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`glimpse: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (e instanceof InputError) {
    process.stderr.write(`glimpse: ${oneLine(e.message)}\n`);
    process.exit(2);
  }
  if (e instanceof StoreError) {
    const p = e.partial;
    const done = p ? `; ${p.computed + p.reused} of ${p.files} photos stored (${p.computed} computed), the rest not indexed` : '';
    process.stderr.write(`glimpse: ${oneLine(e.message)}${done}\n`);
    process.exit(1);
  }
  if (e instanceof ImageError) {
    process.stderr.write(`glimpse: ${oneLine(e.message)}\n`);
    process.exit(1);
  }
  const debug = !!process.env.GLIMPSE_DEBUG;
  process.stderr.write(`glimpse: ${e instanceof Error ? (debug ? e.stack ?? e.message : `${oneLine(e.message)} (GLIMPSE_DEBUG=1 shows where)`) : String(e)}\n`);
  process.exit(1);
});
