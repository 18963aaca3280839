/**
 * The index service: a child process (dist/index-worker.js) forked by the extension. It owns the
 * album index, the writer lock, the models, thumbnails and renderings, and answers requests
 * (service-protocol.ts) over the IPC channel. Indexing runs here, so the extension host only
 * relays messages; results are committed as they come, so a reload or a crash loses nothing
 * finished.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Box } from '../../shared/protocol';
import { DEFAULT_MAX_PIXELS, readImageFile } from '../decode';
import { DECODABLE_EXTENSIONS } from '../files';
import { systemId } from '../pipeline';
import { AlbumIndex, type IndexProgress, type UpdateOptions } from './album';
import { albumLockName, tryLock, type Lock } from './lock';
import { CACHE_FILE, FaceStore, StoreError } from './store';
import type { ReplyMessage, RequestMessage, RequestName, ServiceConfig, ServiceEvent, ServiceProgress, ServiceRequests, ServiceState } from './service-protocol';

let config: ServiceConfig | undefined;
let index: AlbumIndex | undefined;
let lock: Lock | undefined;
let state: ServiceState = 'starting';
let paused = false;
let pendingFull = false;
/** The next full scan recomputes every photo (Rebuild Face Index). */
let pendingRebuild = false;
/** Why the last run stopped, until a run completes. */
let lastError: string | undefined;
const pendingPaths = new Set<string>();
let running: Promise<void> | undefined;
let current: AbortController | undefined;
let last: IndexProgress = { done: 0, total: 0, computed: 0, reused: 0, failed: 0 };
let lockTimer: NodeJS.Timeout | undefined;

function send(e: ServiceEvent): void {
  process.send?.(e);
}

function progress(): ServiceProgress {
  return { state, done: last.done, total: last.total, computed: last.computed, reused: last.reused, failed: last.failed, photos: index?.size ?? 0, faces: index?.faceCount ?? 0, error: lastError };
}

let progressTimer: NodeJS.Timeout | undefined;
function reportProgress(now = false): void {
  if (now) {
    clearTimeout(progressTimer);
    progressTimer = undefined;
    send({ event: 'progress', progress: progress() });
    return;
  }
  progressTimer ??= setTimeout(() => {
    progressTimer = undefined;
    send({ event: 'progress', progress: progress() });
  }, 250);
}

let changedTimer: NodeJS.Timeout | undefined;
function reportChanged(): void {
  changedTimer ??= setTimeout(() => {
    changedTimer = undefined;
    send({ event: 'changed' });
  }, 1000);
}

function setState(s: ServiceState): void {
  if (s === state) return;
  state = s;
  reportProgress(true);
}

const updateHooks = (signal: AbortSignal): UpdateOptions => ({
  signal,
  onProgress: (p) => {
    last = p;
    reportProgress();
  },
  onFailed: (p) => send({ event: 'failed', key: p.key, rel: p.rel, kind: p.error?.kind ?? 'failed', message: p.error?.message ?? '' }),
  onUnreadable: (p, message) => send({ event: 'unreadable', path: p, message }),
  onPhoto: () => reportChanged(),
});

/** Runs pending work (a full scan first, then watched paths) until none is left or indexing is paused. */
function pump(): Promise<void> {
  running ??= (async () => {
    try {
      while (!paused && lock && index && (pendingFull || pendingPaths.size)) {
        current = new AbortController();
        setState('indexing');
        if (pendingFull) {
          pendingFull = false;
          const recompute = pendingRebuild;
          pendingRebuild = false;
          pendingPaths.clear();
          await index.update({ ...updateHooks(current.signal), recompute });
          if (current.signal.aborted) {
            pendingFull = true;
            pendingRebuild ||= recompute;
          } else reportLinks();
        } else {
          const paths = [...pendingPaths];
          pendingPaths.clear();
          last = { done: 0, total: paths.length, computed: 0, reused: 0, failed: 0 };
          await index.updatePaths(paths, updateHooks(current.signal));
          if (current.signal.aborted) for (const p of paths) pendingPaths.add(p);
        }
      }
      lastError = undefined;
      setState(paused ? 'paused' : lock ? 'idle' : 'waiting');
    } catch (e) {
      // A write that failed (disk full, read-only, I/O error) stops the run: the photos done are
      // stored, the rest are not counted. The next scan (a file change, resume, a new window) tries again.
      lastError = `Indexing stopped: ${e instanceof StoreError ? e.message : (e as Error).message}`;
      if (!(e instanceof StoreError)) send({ event: 'note', message: `${lastError}\n${(e as Error).stack ?? ''}` });
      state = 'error';
      reportProgress(true);
    } finally {
      current = undefined;
      running = undefined;
      reportChanged();
    }
  })();
  return running;
}

let sentLinks = '[]';
/** Tells the extension where the scan's symbolic links lead out of the roots, when that changed (it watches there). */
function reportLinks(): void {
  const links = index?.links ?? [];
  if (JSON.stringify(links) === sentLinks) return;
  sentLinks = JSON.stringify(links);
  send({ event: 'links', links });
}

/** The album's writer lock, in the shared store: one window computes an album, the others read it. */
function albumLock(c: ServiceConfig): Lock | undefined {
  return tryLock(path.join(c.cacheDir, 'locks'), albumLockName(c.roots.map((r) => r.path), systemId(c.index)));
}

/** Another window indexes this album: read what it writes, and take over when it is gone. */
function waitForLock(): void {
  lockTimer = setInterval(async () => {
    if (!config || !index) return;
    lock = albumLock(config);
    if (lock) {
      clearInterval(lockTimer);
      lockTimer = undefined;
      send({ event: 'note', message: 'The other window stopped indexing this folder; this window takes over.' });
      pendingFull = true;
      void pump();
    } else {
      try {
        await index.reload();
      } catch (e) {
        lastError = `Cannot read the face cache: ${(e as Error).message}`;
      }
      reportChanged();
      reportProgress();
    }
  }, 5000);
  lockTimer.unref();
}

async function stopIndexing(): Promise<void> {
  current?.abort();
  await running;
}

function requireIndex(): AlbumIndex {
  if (!index) throw new Error('the index service is not initialised');
  return index;
}

function albumPhoto(key: string) {
  const photo = requireIndex().get(key);
  // Only photos of the index are ever read for the gallery: a key is never a path of the caller's choosing.
  if (!photo || photo.error) throw new Error(`not a photo of the album: ${key}`);
  return photo;
}

const renditionsInFlight = new Map<string, Promise<string>>();
let tmpCounter = 0;

/**
 * A JPEG rendition of `input` at `out`, made once: photos with the same bytes share one file, so
 * two requests for it may come together; the second waits for the first instead of writing the
 * same file (each write goes through its own temporary name, then is renamed into place).
 */
function jpegRendition(input: string | Buffer, out: string, size: number): Promise<string> {
  if (existsSync(out)) return Promise.resolve(out);
  let pending = renditionsInFlight.get(out);
  if (!pending) {
    pending = (async () => {
      mkdirSync(path.dirname(out), { recursive: true });
      const tmp = `${out}.${process.pid}-${++tmpCounter}.tmp`;
      try {
        await sharp(input, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'truncated', pages: 1 })
          .rotate()
          .resize(size, size, { fit: 'inside', withoutEnlargement: true })
          .flatten({ background: '#ffffff' })
          .jpeg({ quality: 82 })
          .toFile(tmp);
        renameSync(tmp, out);
      } finally {
        rmSync(tmp, { force: true });
      }
      return out;
    })().finally(() => renditionsInFlight.delete(out));
    renditionsInFlight.set(out, pending);
  }
  return pending;
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

function boxesSvg(width: number, height: number, boxes: Box[], emphasis: number): Buffer {
  const base = Math.max(2, Math.round(Math.min(width, height) / 300));
  const rects = boxes
    .map((b, i) => {
      const strong = i === emphasis;
      const w = strong ? base * 2 : base;
      return `<rect x="${b[0].toFixed(1)}" y="${b[1].toFixed(1)}" width="${b[2].toFixed(1)}" height="${b[3].toFixed(1)}" fill="none" stroke="${strong ? '#ffd200' : '#ffffff'}" stroke-width="${w}" stroke-opacity="${strong ? 1 : 0.8}"/>`;
    })
    .join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${rects}</svg>`);
}

type Handlers = { [K in RequestName]: (p: ServiceRequests[K][0]) => Promise<ServiceRequests[K][1]> };

const handlers: Handlers = {
  async init(c) {
    config = c;
    mkdirSync(c.thumbsDir, { recursive: true });
    const note = (message: string) => send({ event: 'note', message });
    const store = await FaceStore.open(c.cacheDir, note);
    try {
      await importLegacy(store, c.legacy ?? [], note);
      lock = albumLock(c);
      index = await AlbumIndex.open(store, c.roots, c.index, note);
    } catch (e) {
      lock?.release();
      lock = undefined;
      await store.close();
      throw e;
    }
    if (!lock) {
      send({ event: 'note', message: 'Another window is indexing this album; this one shows its results and takes over when it closes.' });
      waitForLock();
    }
    paused = !c.autoStart;
    pendingFull = true;
    state = lock ? (paused ? 'paused' : 'indexing') : 'waiting';
    sentLinks = '[]';
    void pump();
    return { ...progress(), extensions: DECODABLE_EXTENSIONS };
  },
  async setFilter(options) {
    const idx = requireIndex();
    config = { ...config!, index: { ...config!.index, include: options.include, exclude: options.exclude, includeHidden: options.includeHidden } };
    // A scan under way lists by the old filter: stop it; pump() starts the new one.
    current?.abort();
    if (idx.setFilter(options).length) reportChanged();
    for (const p of idx.filter.problems) send({ event: 'note', message: `A glob of the filter settings is left out: ${p}` });
    reportProgress();
    pendingFull = true;
    void pump();
  },
  async update() {
    pendingFull = true;
    void pump();
  },
  async updatePaths({ paths }) {
    for (const p of paths) pendingPaths.add(p);
    void pump();
  },
  async pause() {
    paused = true;
    await stopIndexing();
    setState('paused');
  },
  async resume() {
    paused = false;
    if (!lock) {
      setState('waiting');
      return;
    }
    pendingFull = true;
    void pump();
  },
  async rebuild() {
    if (!config || !lock) throw new Error('another window is indexing this album; rebuild from that window');
    await stopIndexing();
    // The store is shared with other albums and windows: only this album's faces are computed again
    // (overwriting its records), and only its thumbnails are removed.
    const hashes = new Set(requireIndex().all().flatMap((p) => (p.hash ? [p.hash] : [])));
    for (const f of readdirSync(config.thumbsDir)) if (hashes.has(f.slice(0, 64))) rmSync(path.join(config.thumbsDir, f), { force: true });
    last = { done: 0, total: 0, computed: 0, reused: 0, failed: 0 };
    paused = false;
    pendingFull = true;
    pendingRebuild = true;
    reportChanged();
    void pump();
  },
  async query({ file, bytes }) {
    const idx = requireIndex();
    const input = file ?? (bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : undefined);
    if (!input) throw new Error('query needs a file or bytes');
    const r = await idx.facesOf(input);
    const key = file && idx.get(file) ? path.resolve(file) : undefined;
    return { width: r.width, height: r.height, key, faces: r.faces.map((f) => ({ box: f.box, score: f.score, embedding: f.embedding })) };
  },
  async search({ embedding, floor }) {
    const items = (await requireIndex().search(embedding, floor)).map((m) => ({
      key: m.photo.key,
      root: m.photo.root,
      rel: m.photo.rel,
      width: m.photo.width,
      height: m.photo.height,
      mtimeMs: m.photo.mtimeMs,
      score: m.score,
      face: m.face,
      faces: m.photo.faces.map((f) => f.box),
    }));
    return { items, progress: progress() };
  },
  async thumbs({ keys, size }) {
    const dir = config!.thumbsDir;
    return mapLimit(keys, 4, async (key) => {
      try {
        const photo = albumPhoto(key);
        const file = await jpegRendition(photo.key, path.join(dir, `${photo.hash}-${size}.jpg`), size);
        return { key, file };
      } catch {
        return { key };
      }
    });
  },
  async rendition({ file, bytes, size }) {
    const input = file ? await readImageFile(file, config?.index.maxBytes) : bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : undefined;
    if (!input) throw new Error('rendition needs a file or bytes');
    const hash = createHash('sha256').update(input).digest('hex');
    return { file: await jpegRendition(input, path.join(config!.thumbsDir, `q-${hash}-${size}.jpg`), size) };
  },
  async render({ key, boxes, emphasis, out }) {
    const photo = albumPhoto(key);
    const input = await readFile(photo.key);
    const img = sharp(input, { limitInputPixels: DEFAULT_MAX_PIXELS, pages: 1 }).rotate();
    const tmp = `${out}.glimpse-${process.pid}.tmp`;
    const ext = path.extname(out).toLowerCase();
    const withBoxes = img.composite([{ input: boxesSvg(photo.width, photo.height, boxes, emphasis), top: 0, left: 0 }]);
    const formatted = ext === '.png' ? withBoxes.png() : ext === '.webp' ? withBoxes.webp({ quality: 92 }) : withBoxes.jpeg({ quality: 92 });
    await formatted.toFile(tmp);
    renameSync(tmp, out);
  },
  async stats() {
    return progress();
  },
};

/**
 * Faces of older per-workspace caches (storageUri/index-<model>) are copied into the shared store,
 * then those folders are removed: a user upgrading keeps every face computed (no re-index).
 */
async function importLegacy(store: FaceStore, dirs: readonly string[], note: (m: string) => void): Promise<void> {
  const inside = (a: string, b: string) => !path.relative(a, b).startsWith('..');
  for (const dir of dirs) {
    // Never the shared store or its thumbnails (a misconfigured caller).
    if (!existsSync(dir) || inside(dir, store.dir) || (config && inside(dir, config.thumbsDir))) continue;
    const file = path.join(dir, CACHE_FILE);
    let copied: { files: number; faces: number } | undefined;
    try {
      copied = await store.importLegacy(file);
    } catch (e) {
      // Not copied (the shared store could not be written): leave the old cache for the next start.
      note(`The old face cache ${file} was not copied: ${(e as Error).message}`);
      continue;
    }
    if (copied) note(`Copied ${copied.faces.toLocaleString('en-US')} photos' faces from this workspace's old face cache into the shared one (${store.file}); removed ${dir}.`);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function handle(msg: RequestMessage): Promise<void> {
  let reply: ReplyMessage;
  try {
    const fn = handlers[msg.type] as (p: unknown) => Promise<unknown>;
    if (!fn) throw new Error(`unknown request ${String(msg.type)}`);
    reply = { id: msg.id, ok: true, result: await fn(msg.params) };
  } catch (e) {
    reply = { id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  process.send?.(reply);
}

async function shutdown(): Promise<void> {
  await stopIndexing().catch(() => undefined);
  await index?.close();
  lock?.release();
  process.exit(0);
}

process.on('message', (m: RequestMessage) => void handle(m));
// The extension host went away (window closed, reload, crash): stop; the next start resumes.
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
