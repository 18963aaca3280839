/**
 * npm run bench: Glimpse against @vladmandic/face-api (tfjs-wasm) on the same photos in one run,
 * plus search latency, cold start and the extension host's longest event-loop block while the
 * index service works. Prints one JSON line per figure set and a table. Not a test: nothing is
 * asserted here.
 *
 *   node scripts/run-ts.mjs scripts/bench.ts [--sets eval,camera] [--sample N|--full]
 *        [--threads N] [--lookahead N] [--detector mtcnn|mediapipe] [--skip-faceapi] [--skip-search] [--skip-host]
 *
 * Photo sets: (1) the labelled photos of ../shared/eval (a deterministic sample of --sample photos,
 * default 300; --full for all), (2) "camera": the group photos of ../shared/eval scaled to fit
 * 4000x3000 and saved as JPEG (made once into .cache/bench/camera), as real albums are 12-megapixel
 * phone photos. Without ../shared/eval, face-api's demo photos stand in for both.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { findImages } from '../src/engine/files';
import { AlbumIndex } from '../src/engine/index/album';
import { IndexServiceClient } from '../src/engine/index/client';
import { FaceMatrix } from '../src/engine/search';
import { newStageTimes } from '../src/engine/types';

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH_DIR = path.join(process.env.GLIMPSE_CACHE ?? path.join(ROOT, '.cache'), 'bench');
const EVAL = process.env.GLIMPSE_EVAL_DIR ?? path.resolve(ROOT, '..', 'shared', 'eval');
const DEMO = path.join(ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo');

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string, dflt?: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};

interface RunResult {
  system: string;
  set: string;
  photos: number;
  faces: number;
  seconds: number;
  photos_per_s: number;
  faces_per_s: number;
  peak_rss_mb: number;
  first_photo_ms?: number;
  split_ms_per_photo?: Record<string, number>;
  failed?: number;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

// ---- children -------------------------------------------------------------------------------

async function childGlimpse(dir: string, set: string): Promise<RunResult> {
  const times = newStageTimes();
  const cache = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-cache-'));
  const threads = Number(value('threads', '1'));
  const lookahead = Number(value('lookahead', '3'));
  const detector = value('detector') as 'mtcnn' | 'mediapipe' | undefined;
  let first: number | undefined;
  try {
    const index = await AlbumIndex.open(cache, [{ path: dir }], { times, threads, lookahead, detector });
    const t0 = performance.now();
    const stats = await index.update({ onProgress: () => (first ??= performance.now()) });
    const seconds = (performance.now() - t0) / 1000;
    await index.close();
    const n = stats.files;
    const per = (x: number) => r2(x / n);
    return {
      system: `glimpse ${index.system} threads=${threads} lookahead=${lookahead}`,
      set,
      photos: n,
      faces: stats.faces,
      seconds: r2(seconds),
      photos_per_s: r2(n / seconds),
      faces_per_s: r2(stats.faces / seconds),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      // From process start (models loaded on the way) to the first photo's faces committed.
      first_photo_ms: first ? Math.round(first) : undefined,
      split_ms_per_photo: { decode: per(times.decode), detect: per(times.detect), align: per(times.align), embed: per(times.embed), cache_write: per(times.write) },
      failed: stats.failed,
    };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function childFaceApi(dir: string, set: string): Promise<RunResult> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  const faceapi = await import('@vladmandic/face-api/dist/face-api.node-wasm.js');
  await tf.setBackend('wasm');
  await tf.ready();
  const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(models);
  const files = await findImages(dir);
  let faces = 0;
  let first: number | undefined;
  const t0 = performance.now();
  for (const f of files) {
    // The same decoding as Glimpse: sharp, EXIF orientation applied, RGB.
    const { data, info } = await sharp(path.join(dir, f)).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const t = tf.tensor3d(new Uint8Array(data.buffer, data.byteOffset, data.length), [info.height, info.width, 3], 'int32');
    const found = await faceapi
      .detectAllFaces(t as unknown as Parameters<typeof faceapi.detectAllFaces>[0], new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }))
      .withFaceLandmarks()
      .withFaceDescriptors();
    t.dispose();
    faces += found.length;
    first ??= performance.now();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    system: 'face-api 1.7.15 tfjs-wasm (ssd_mobilenetv1 + landmark68 + recognition)',
    set,
    photos: files.length,
    faces,
    seconds: r2(seconds),
    photos_per_s: r2(files.length / seconds),
    faces_per_s: r2(faces / seconds),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    first_photo_ms: first ? Math.round(first) : undefined,
  };
}

function runChild(kind: 'glimpse' | 'faceapi', dir: string, set: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--child', kind, dir, set, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as RunResult);
      else reject(new Error(`${kind} on ${set} failed (exit ${code}): ${out.slice(-500)}`));
    });
  });
}

// ---- photo sets -------------------------------------------------------------------------------

async function prepareSets(): Promise<{ name: string; dir: string }[]> {
  const want = (value('sets', 'eval,camera') ?? '').split(',');
  const sets: { name: string; dir: string }[] = [];
  const haveEval = existsSync(path.join(EVAL, 'manifest.json'));
  if (want.includes('eval')) {
    const sample = flag('full') ? Infinity : Number(value('sample', '300'));
    const name = haveEval ? `eval${Number.isFinite(sample) ? `-sample${sample}` : ''}` : 'face-api-demo';
    const dir = path.join(BENCH_DIR, name);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      if (haveEval) {
        const all = (await findImages(EVAL)).filter((f) => !f.startsWith('groups/'));
        const groups = (await findImages(EVAL)).filter((f) => f.startsWith('groups/'));
        const step = Number.isFinite(sample) ? Math.max(1, Math.floor(all.length / sample)) : 1;
        const picked = [...all.filter((_, i) => i % step === 0).slice(0, Number.isFinite(sample) ? sample - Math.min(groups.length, 10) : undefined), ...groups.slice(0, Number.isFinite(sample) ? 10 : undefined)];
        for (const f of picked) {
          mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
          copyFileSync(path.join(EVAL, f), path.join(dir, f));
        }
      } else for (const f of readdirSync(DEMO).filter((x) => /^sample\d\.jpg$/.test(x))) copyFileSync(path.join(DEMO, f), path.join(dir, f));
    }
    sets.push({ name, dir });
  }
  if (want.includes('camera')) {
    const dir = path.join(BENCH_DIR, haveEval ? 'camera' : 'camera-demo');
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      const src = haveEval ? (await findImages(path.join(EVAL, 'groups'))).map((f) => path.join(EVAL, 'groups', f)) : readdirSync(DEMO).filter((x) => /^sample\d\.jpg$/.test(x)).map((f) => path.join(DEMO, f));
      for (const f of src) {
        await sharp(f).rotate().resize(4000, 3000, { fit: 'inside', kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(path.join(dir, path.basename(f).replace(/\.\w+$/, '.jpg')));
      }
    }
    sets.push({ name: 'camera-4000x3000', dir });
  }
  return sets;
}

// ---- search, event loop -------------------------------------------------------------------------

async function searchLatency(faces: number, dim = 192, queries = 60): Promise<Record<string, number>> {
  // Unit vectors of a seeded generator; about 1.3 faces per photo, like real albums.
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const data = new Float32Array(faces * dim);
  for (let r = 0; r < faces; r++) {
    let n = 0;
    for (let i = 0; i < dim; i++) n += (data[r * dim + i] = rand()) ** 2;
    n = 1 / Math.sqrt(n);
    for (let i = 0; i < dim; i++) data[r * dim + i] *= n;
  }
  const owners = Math.ceil(faces / 1.3);
  const owner = Int32Array.from({ length: faces }, (_, r) => Math.floor(r / 1.3));
  const m = new FaceMatrix(dim, data, owner, owners);
  const times: number[] = [];
  for (let q = 0; q < queries; q++) {
    const query = data.slice(((q * 7919) % faces) * dim, (((q * 7919) % faces) + 1) * dim);
    const t = performance.now();
    await m.search(query, 0.26);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => r2(times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]);
  return { faces, p50_ms: pct(50), p95_ms: pct(95), max_ms: r2(times[times.length - 1]), matrix_mb: Math.round(data.byteLength / 1e6) };
}

/** The index service on a set, from this process playing the extension host: its longest event-loop block. */
async function hostBlock(dir: string): Promise<Record<string, number>> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  const cache = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-svc-'));
  let done!: () => void;
  const idle = new Promise<void>((r) => (done = r));
  let messages = 0;
  const worker = path.join(ROOT, 'dist', 'index-worker.js');
  const client = new IndexServiceClient({
    workerPath: worker,
    onEvent: (e) => {
      messages++;
      if (e.event === 'progress' && e.progress.state === 'idle') done();
    },
  });
  client.start();
  const t0 = performance.now();
  await client.request('init', { roots: [{ path: dir }], cacheDir: cache, thumbsDir: path.join(cache, 'thumbs'), index: {}, autoStart: true });
  h.enable();
  await idle;
  h.disable();
  const seconds = (performance.now() - t0) / 1000;
  await client.stop();
  rmSync(cache, { recursive: true, force: true });
  return { seconds: r2(seconds), messages, max_block_ms: r2(h.max / 1e6), p99_block_ms: r2(h.percentile(99) / 1e6), mean_delay_ms: r2(h.mean / 1e6) };
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (argv[0] === '--child') {
    const [, kind, dir, set] = argv;
    const r = kind === 'glimpse' ? await childGlimpse(dir, set) : await childFaceApi(dir, set);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  if (!existsSync(path.join(ROOT, 'dist', 'index-worker.js'))) execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs')], { stdio: 'inherit', cwd: ROOT });
  const cpu = `${require('node:os').cpus().length} cores`;
  console.error(`bench: ${cpu}, node ${process.version}`);
  const table: string[][] = [['set', 'system', 'photos', 'faces', 'photos/s', 'faces/s', 'peak RSS MB', 'first photo ms']];
  for (const set of await prepareSets()) {
    const g = await runChild('glimpse', set.dir, set.name);
    console.log(JSON.stringify(g));
    table.push([set.name, 'glimpse', `${g.photos}`, `${g.faces}`, `${g.photos_per_s}`, `${g.faces_per_s}`, `${g.peak_rss_mb}`, `${g.first_photo_ms}`]);
    if (!flag('skip-faceapi')) {
      const f = await runChild('faceapi', set.dir, set.name);
      console.log(JSON.stringify(f));
      table.push([set.name, 'face-api', `${f.photos}`, `${f.faces}`, `${f.photos_per_s}`, `${f.faces_per_s}`, `${f.peak_rss_mb}`, `${f.first_photo_ms}`]);
      const ratio = { set: set.name, speedup_photos_per_s: r2(g.photos_per_s / f.photos_per_s), faces_glimpse: g.faces, faces_faceapi: f.faces };
      console.log(JSON.stringify(ratio));
      table.push([set.name, 'ratio', '', '', `${ratio.speedup_photos_per_s}x`, '', '', '']);
    }
    console.error(`  ${set.name}: split ms/photo ${JSON.stringify(g.split_ms_per_photo)}`);
  }
  if (!flag('skip-search')) {
    for (const n of [100_000, 1_000_000]) {
      const s = await searchLatency(n);
      console.log(JSON.stringify({ search: s }));
      table.push(['search', `${n.toLocaleString('en-US')} faces`, '', '', `p50 ${s.p50_ms} ms`, `p95 ${s.p95_ms} ms`, `${s.matrix_mb} MB`, '']);
    }
  }
  if (!flag('skip-host')) {
    const sets = await prepareSets();
    const b = await hostBlock(sets[0].dir);
    console.log(JSON.stringify({ host_event_loop: b }));
    table.push(['host', 'event-loop block while indexing', '', '', `max ${b.max_block_ms} ms`, `p99 ${b.p99_block_ms} ms`, '', '']);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  console.error('\n' + table.map((r) => r.map((x, c) => x.padEnd(widths[c])).join('  ')).join('\n'));
  writeFileSync(path.join(BENCH_DIR, 'last.txt'), table.map((r) => r.join('\t')).join('\n') + '\n');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
