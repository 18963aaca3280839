/**
 * The album index: every face of every photo under the album roots, kept in the face cache and
 * kept true as photos come, change and go. A path whose size and mtime are unchanged is trusted;
 * otherwise its content is hashed, and a known hash reuses its faces (a renamed or moved photo
 * costs no inference); only new content runs the models. Each result is committed as it comes,
 * so an interrupted run resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeImage, decodeOptionsOf, readImageFile, DEFAULT_MAX_BYTES, type DecodedImage } from '../decode';
import { errorInfo } from '../batch';
import type { AlbumFilter, FilterOptions } from '../album-filter';
import { compareAlbumPlaces } from '../album-filter';
import { realPathOf, walkAlbum, type LinkedPlace } from '../album-walk';
import { albumFilter } from '../files';
import { FaceMatrix } from '../search';
import { FaceEngine, systemId, type EngineOptions } from '../pipeline';
import type { Face, PhotoFaces, StageTimes } from '../types';
import { FaceStore, isPermanent, packFaces, StoreError, unpackFaces, type FacesEntry, type FileEntry } from './store';

export interface AlbumRoot {
  /** Absolute folder path. */
  path: string;
  /** Display name (the workspace folder's name). */
  name?: string;
}

export interface IndexOptions extends EngineOptions, FilterOptions {
  /** Photos read and decoded ahead of the ones the models work on (default 3). */
  lookahead?: number;
  /** Accumulates time per stage (decode time overlaps the models' work: it runs on the thread pool). */
  times?: StageTimes;
}

/** A photo of the album as the index knows it. */
export interface Photo {
  /** Absolute path: the key of the photo in the index. */
  key: string;
  root: number;
  /** Path relative to its root, forward slashes. */
  rel: string;
  size: number;
  mtimeMs: number;
  hash?: string;
  width: number;
  height: number;
  faces: Face[];
  error?: { kind: string; message: string };
}

export interface IndexStats {
  files: number;
  computed: number;
  reused: number;
  removed: number;
  failed: number;
  faces: number;
  seconds: number;
}

export interface IndexProgress {
  done: number;
  total: number;
  computed: number;
  reused: number;
  failed: number;
  file?: string;
}

export interface UpdateOptions {
  signal?: AbortSignal;
  onProgress?: (p: IndexProgress) => void;
  /** A photo that could not be indexed, with the reason. */
  onFailed?: (photo: Photo) => void;
  /** A folder or a symbolic link that could not be read (its photos are left out). */
  onUnreadable?: (path: string, message: string) => void;
  /** A photo whose faces changed (computed, reused under a new path, or removed). */
  onPhoto?: (photo: Photo | { key: string; removed: true }) => void;
  /** Compute every photo's faces again, ignoring cached faces and verdicts (Rebuild Face Index). */
  recompute?: boolean;
}

export interface Match {
  photo: Photo;
  /** Index of the best-matching face in photo.faces. */
  face: number;
  score: number;
}

/** `stored`: the store already holds this photo's record as it is (nothing to write). */
type Prepared =
  | { kind: 'reuse'; photo: Photo; stored?: boolean }
  | { kind: 'compute'; photo: Photo; decoded: Promise<DecodedImage> }
  | { kind: 'failed'; photo: Photo; stored?: boolean }
  | { kind: 'error'; error: unknown };

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

export class AlbumIndex {
  private readonly photos = new Map<string, Photo>();
  private engine?: Promise<FaceEngine>;
  private matrix?: { faces: FaceMatrix; photos: Photo[]; faceOf: Int32Array };
  private currentFilter?: AlbumFilter;
  private filterOptions?: FilterOptions;
  /** Real path of each accepted path seen (photos, and further paths to the same files): one file, one photo. */
  private reals = new Map<string, string>();
  private linked: LinkedPlace[] = [];
  readonly system: string;

  private constructor(
    readonly store: FaceStore,
    readonly roots: AlbumRoot[],
    private readonly opts: IndexOptions,
  ) {
    this.system = systemId(opts);
  }

  /**
   * Opens the face store in the folder `cache` (shared by every album of this machine), or takes
   * an open one (then closed with the index), and loads what it knows of `roots` (searchable at
   * once). Throws a StoreError when the store cannot be opened or read.
   */
  static async open(cache: string | FaceStore, roots: AlbumRoot[], opts: IndexOptions = {}, notes?: (m: string) => void): Promise<AlbumIndex> {
    const store = typeof cache === 'string' ? await FaceStore.open(cache, notes) : cache;
    const index = new AlbumIndex(store, roots.map((r) => ({ ...r, path: path.resolve(r.path) })), opts);
    await index.load();
    return index;
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** The models, loaded on first need: an album whose photos are all cached never loads them. */
  private getEngine(): Promise<FaceEngine> {
    this.engine ??= FaceEngine.create(this.opts);
    return this.engine;
  }

  /**
   * Root index and relative path of a photo of the album by the album filter's rules (roots,
   * include, exclude, hidden folders, formats), or undefined. Cached paths the filter now leaves
   * out are not loaded: their records stay, so a photo let in again is not computed again.
   */
  locate(file: string): { root: number; rel: string } | undefined {
    return this.filter.accepts(file);
  }

  /** The album filter for the current roots and options. */
  get filter(): AlbumFilter {
    this.currentFilter ??= albumFilter(
      this.roots.map((r) => r.path),
      this.filterOptions ?? this.opts,
    );
    return this.currentFilter;
  }

  /**
   * Replaces the filter's options (settings changed): photos it now leaves out leave the index at
   * once (their cache records are kept); those it lets in join with the next update().
   * Returns the keys that left.
   */
  setFilter(options: FilterOptions): string[] {
    this.filterOptions = { include: options.include, exclude: options.exclude, includeHidden: options.includeHidden };
    this.currentFilter = undefined;
    const left = [...this.photos.keys()].filter((k) => !this.filter.accepts(k));
    for (const k of left) this.photos.delete(k);
    for (const k of [...this.reals.keys()]) if (!this.filter.accepts(k)) this.reals.delete(k);
    if (left.length) this.matrix = undefined;
    return left;
  }

  /** Symbolic links the last scan followed to places outside every root (the roots' file watchers do not see changes there). */
  get links(): LinkedPlace[] {
    return this.linked;
  }

  /** Reads the cache again (another process may have written to it). */
  async reload(): Promise<void> {
    this.photos.clear();
    await this.load();
  }

  /** Loads the records under the roots (by key range: other albums' records are not read) with their faces. */
  private async load(): Promise<void> {
    const items: { item: { key: string; root: number; rel: string }; entry: FileEntry }[] = [];
    const seen = new Set<string>();
    for (const root of this.roots) {
      for (const [key, entry] of await this.store.filesUnder(root.path)) {
        if (seen.has(key)) continue; // nested roots
        seen.add(key);
        const where = this.locate(key);
        if (where) items.push({ item: { key, ...where }, entry });
      }
    }
    const faces = await this.store.facesMany(items.flatMap(({ entry }) => (entry.hash && !entry.error ? [entry.hash] : [])), this.system);
    for (const { item, entry } of items) {
      const photo = this.photoFrom(item, entry, entry.hash ? faces.get(entry.hash) : undefined);
      if (photo) this.photos.set(item.key, photo);
    }
    this.matrix = undefined;
  }

  /** The faces the store holds for a content, made by this system. */
  private async knownFaces(hash: string): Promise<Pick<Photo, 'width' | 'height' | 'faces'> | undefined> {
    const e = await this.store.getFaces(hash, this.system);
    return e && { width: e.width, height: e.height, faces: unpackFaces(e) };
  }

  /** A photo as its records say it was: a failure, or faces this system made (else undefined: to compute). */
  private photoFrom(item: { key: string; root: number; rel: string }, e: FileEntry, faces: FacesEntry | undefined): Photo | undefined {
    const photo: Photo = { ...item, size: e.size, mtimeMs: e.mtimeMs, hash: e.hash, width: 0, height: 0, faces: [], error: e.error };
    if (e.error) return photo;
    return faces && { ...photo, width: faces.width, height: faces.height, faces: unpackFaces(faces) };
  }

  /** Photos known now (complete or not). */
  get size(): number {
    return this.photos.size;
  }

  get(key: string): Photo | undefined {
    return this.photos.get(path.resolve(key));
  }

  all(): Photo[] {
    return [...this.photos.values()];
  }

  get faceCount(): number {
    let n = 0;
    for (const p of this.photos.values()) n += p.faces.length;
    return n;
  }

  /** Every photo of the album (the album filter's scan), as absolute paths with their root, in album order. */
  async list(onUnreadable?: (path: string, message: string) => void): Promise<{ key: string; root: number; rel: string }[]> {
    const found = await walkAlbum(this.filter, onUnreadable);
    this.reals = new Map([...found.photos, ...found.aliases].map((e) => [e.key, e.real]));
    this.linked = found.links;
    return found.photos.map(({ key, root, rel }) => ({ key, root, rel }));
  }

  /** Brings the index up to date with the album: the full scan. */
  async update(u: UpdateOptions = {}): Promise<IndexStats> {
    const t0 = performance.now();
    const listed = await this.list(u.onUnreadable);
    const stats = await this.process(listed, u);
    if (!u.signal?.aborted) {
      const present = new Set(listed.map((l) => l.key));
      const presentHashes = new Set<string>();
      for (const l of listed) {
        const h = this.photos.get(l.key)?.hash;
        if (h) presentHashes.add(h);
      }
      for (const [key, photo] of [...this.photos]) {
        if (present.has(key)) continue;
        // A path left out of this album but still on disk (a changed filter, a nested root) keeps
        // its record: the store is shared, and another album may hold it.
        const gone = await lstat(key).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT' || e.code === 'ENOTDIR');
        await this.forget(key, u, gone);
        // A photo renamed or moved inside the album is not removed: its content is still here.
        if (!photo.hash || !presentHashes.has(photo.hash)) stats.removed++;
      }
      // Faces of contents no path of any album refers to any more are dropped.
      await this.store.collectGarbage();
    }
    stats.files = listed.length;
    stats.faces = this.faceCount;
    stats.seconds = (performance.now() - t0) / 1000;
    return stats;
  }

  /**
   * Re-examines the given paths (from a file watcher): added, changed or deleted photos, by the
   * same rules as the scan: the album filter, symbolic links followed, one photo per file named by
   * its first path in album order.
   */
  async updatePaths(files: string[], u: UpdateOptions = {}): Promise<IndexStats> {
    const t0 = performance.now();
    const stats: IndexStats = { files: 0, computed: 0, reused: 0, removed: 0, failed: 0, faces: 0, seconds: 0 };
    const filter = this.filter;
    await this.knowRealPaths();
    // Files whose naming path is decided again, and photos that went with their path.
    const touched = new Set<string>();
    const gone = new Map<string, string | undefined>();
    for (const f of new Set(files.map((x) => path.resolve(x)))) {
      const where = filter.accepts(f);
      const real = where && (await realPathOf(filter, where, u.onUnreadable));
      const before = this.reals.get(f);
      if (before !== undefined) touched.add(before);
      if (real !== undefined) {
        this.reals.set(f, real);
        touched.add(real);
      } else {
        this.reals.delete(f);
        if (this.photos.has(f)) gone.set(f, before);
      }
    }
    const pathsOf = new Map<string, string[]>();
    for (const [p, real] of this.reals) if (touched.has(real)) pathsOf.set(real, [...(pathsOf.get(real) ?? []), p]);
    const items: { key: string; root: number; rel: string }[] = [];
    for (const paths of pathsOf.values()) {
      const places = paths.map((key) => ({ key, ...filter.locate(key)! })).sort(compareAlbumPlaces);
      // A path remembered from the last scan may have gone without an event: the first that is still there names the file.
      let name: (typeof places)[number] | undefined;
      for (const p of places) {
        if (!name && (await realPathOf(filter, p)) === this.reals.get(p.key)) name = p;
        else if (!name) this.reals.delete(p.key);
        else if (this.photos.has(p.key)) await this.forget(p.key, u);
      }
      if (name) items.push(name);
    }
    for (const [key, real] of gone) {
      await this.forget(key, u);
      // Another path to the same file still names it: its content is still here.
      if (real === undefined || !items.some((i) => this.reals.get(i.key) === real)) stats.removed++;
    }
    const s = await this.process(items, u);
    stats.files = items.length;
    stats.computed = s.computed;
    stats.reused = s.reused;
    stats.failed = s.failed;
    stats.faces = this.faceCount;
    stats.seconds = (performance.now() - t0) / 1000;
    return stats;
  }

  /** Real paths of photos loaded from the cache before any scan (a scan records them all). */
  private async knowRealPaths(): Promise<void> {
    const unknown = [...this.photos.keys()].filter((k) => !this.reals.has(k));
    for (let i = 0; i < unknown.length; i += 64) {
      await Promise.all(
        unknown.slice(i, i + 64).map(async (k) => {
          const real = await realpath(k).catch(() => undefined);
          if (real !== undefined) this.reals.set(k, real);
        }),
      );
    }
  }

  private async forget(key: string, u: UpdateOptions, dropRecord = true): Promise<void> {
    this.photos.delete(key);
    this.matrix = undefined;
    if (dropRecord) await this.store.deleteFile(key);
    u.onPhoto?.({ key, removed: true });
  }

  /**
   * Validates, reuses or computes each item; commits each result as it comes. A photo counts as
   * computed or reused only once its records are stored: a failed write (disk full, read-only, I/O
   * error) stops the run with a StoreError (carrying the counts so far), and what was stored before
   * stays.
   */
  private async process(items: { key: string; root: number; rel: string }[], u: UpdateOptions): Promise<IndexStats> {
    const stats: IndexStats = { files: items.length, computed: 0, reused: 0, removed: 0, failed: 0, faces: 0, seconds: 0 };
    // Photos are read, hashed and decoded (on libuv's thread pool) up to `lookahead` ahead of the one
    // the models work on. One photo at a time: onnxruntime-node runs inference on the calling thread
    // (measured: timers stop during a run), so two photos at once gain nothing.
    const lookahead = Math.max(1, this.opts.lookahead ?? 3);
    const recompute = !!u.recompute;
    const computedNow = new Set<string>();
    const prepared = new Map<number, Promise<Prepared>>();
    let started = 0;
    const fill = (taken: number) => {
      while (started < items.length && started <= taken + lookahead) {
        // Never rejects: an error (of the store) is handed over in order, so none is left unhandled.
        prepared.set(started, this.prepare(items[started], recompute).catch((error: unknown) => ({ kind: 'error' as const, error })));
        started++;
      }
    };
    const write = async (fn: () => Promise<void>) => {
      const t = performance.now();
      await fn();
      if (this.opts.times) this.opts.times.write += performance.now() - t;
    };
    try {
      for (let i = 0; i < items.length && !u.signal?.aborted; i++) {
        fill(i);
        const p = await prepared.get(i)!;
        prepared.delete(i);
        if (p.kind === 'error') throw p.error;
        let photo = p.photo;
        let stored = p.kind !== 'compute' && !!p.stored;
        // A photo with the same bytes read ahead of this one may have been computed since it was
        // prepared (here, or by another window).
        const meanwhile = p.kind === 'compute' && (!recompute || computedNow.has(photo.hash!)) ? await this.knownFaces(photo.hash!) : undefined;
        let computed: FacesEntry | undefined;
        if (meanwhile) photo = { ...photo, ...meanwhile };
        else if (p.kind === 'compute') {
          try {
            const result: PhotoFaces = await (await this.getEngine()).analyze(await p.decoded, this.opts.times);
            photo = { ...photo, width: result.width, height: result.height, faces: result.faces };
            computed = packFaces(this.system, result.width, result.height, result.faces);
          } catch (e) {
            photo = { ...photo, error: errorInfo(e) };
          }
        }
        // A transient failure (a read error, a file being written, the models failing) is not
        // stored: the path's earlier record stays, and the next run tries again.
        if (photo.error && !isPermanent(photo.error)) stored = true;
        // The path before its faces: a garbage collection in between (another window's) keeps faces a path refers to.
        if (!stored) await write(() => this.store.setFile(photo.key, { size: photo.size, mtimeMs: photo.mtimeMs, hash: photo.hash, error: photo.error }));
        if (computed) {
          await write(() => this.store.setFaces(photo.hash!, computed!));
          computedNow.add(photo.hash!);
          stats.computed++;
        } else if (!photo.error) stats.reused++;
        if (photo.error) {
          stats.failed++;
          u.onFailed?.(photo);
        }
        this.photos.set(photo.key, photo);
        this.matrix = undefined;
        u.onPhoto?.(photo);
        u.onProgress?.({ done: i + 1, total: items.length, computed: stats.computed, reused: stats.reused, failed: stats.failed, file: photo.key });
      }
    } catch (e) {
      if (e instanceof StoreError) e.partial = { files: items.length, computed: stats.computed, reused: stats.reused, failed: stats.failed };
      throw e;
    } finally {
      // Stopped early: let what was started finish, so nothing is left half-read; none of it is committed.
      await Promise.allSettled(prepared.values());
    }
    return stats;
  }

  /** Stat, validate against the store, read and hash when needed, start decoding when the models must run. */
  private async prepare(item: { key: string; root: number; rel: string }, recompute: boolean, attempt = 0): Promise<Prepared> {
    const base = { key: item.key, root: item.root, rel: item.rel, width: 0, height: 0, faces: [] as Face[] };
    let st;
    try {
      st = await stat(item.key);
    } catch (e) {
      return { kind: 'failed', photo: { ...base, size: 0, mtimeMs: 0, error: { kind: 'unreadable', message: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` } } };
    }
    const photo: Photo = { ...base, size: st.size, mtimeMs: st.mtimeMs };
    const maxBytes = this.opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const loaded = this.photos.get(item.key);
    const known = loaded ?? (await this.cachedPhoto(item));
    if (!recompute && known && known.size === st.size && known.mtimeMs === st.mtimeMs) {
      // Trusted: unchanged size and time. Kept verdicts are about the content (not an image,
      // truncated...); a read error is tried again, and a file too large under an older limit is looked at again.
      const same = { ...known, root: item.root, rel: item.rel };
      if (!known.error) return { kind: 'reuse', photo: same, stored: true };
      if (isPermanent(known.error) && !(known.error.kind === 'too-large' && st.size <= maxBytes)) return { kind: 'failed', photo: same, stored: true };
    }
    let buf: Buffer;
    try {
      buf = await readImageFile(item.key, maxBytes);
    } catch (e) {
      return { kind: 'failed', photo: { ...photo, error: errorInfo(e) } };
    }
    const after = await stat(item.key).catch(() => undefined);
    if (!after || after.size !== st.size || after.mtimeMs !== st.mtimeMs || buf.length !== st.size) {
      // Written to while we read it: read again once it settles, or report it and try next time.
      if (attempt < 2) {
        await new Promise((r) => setTimeout(r, 500));
        return this.prepare(item, recompute, attempt + 1);
      }
      return { kind: 'failed', photo: { ...photo, error: { kind: 'changed', message: 'the file kept changing while it was read; it will be indexed when it settles' } } };
    }
    photo.hash = sha256(buf);
    const cached = recompute ? undefined : await this.knownFaces(photo.hash);
    if (cached) return { kind: 'reuse', photo: { ...photo, ...cached } };
    const t = performance.now();
    const decoded = decodeImage(buf, decodeOptionsOf(this.opts));
    decoded.then(() => this.opts.times && (this.opts.times.decode += performance.now() - t), () => undefined); // awaited in order by process()
    return { kind: 'compute', photo, decoded };
  }

  /** What the store knows of a path not loaded (outside the roots at load time, or written by another window since). */
  private async cachedPhoto(item: { key: string; root: number; rel: string }): Promise<Photo | undefined> {
    const e = await this.store.getFile(item.key);
    if (!e) return undefined;
    const faces = e.hash && !e.error ? await this.store.getFaces(e.hash, this.system) : undefined;
    return this.photoFrom(item, e, faces);
  }

  /**
   * Faces of a query photo: from the index when it is an unchanged album photo, else computed
   * (a query from outside the album is fine; it is not added to the index).
   */
  async facesOf(input: string | Buffer): Promise<PhotoFaces> {
    if (typeof input === 'string') {
      const known = this.photos.get(path.resolve(input));
      if (known && !known.error) {
        const st = await stat(known.key).catch(() => undefined);
        if (st && st.size === known.size && st.mtimeMs === known.mtimeMs) return { width: known.width, height: known.height, faces: known.faces };
      }
    }
    const buf = typeof input === 'string' ? await readImageFile(input, this.opts.maxBytes) : input;
    return (await this.getEngine()).analyze(await decodeImage(buf, decodeOptionsOf(this.opts)));
  }

  private buildMatrix() {
    if (this.matrix) return this.matrix;
    const photos = [...this.photos.values()];
    let rows = 0;
    let dim = 0;
    for (const p of photos) {
      rows += p.faces.length;
      if (p.faces.length) dim = p.faces[0].embedding.length;
    }
    const data = new Float32Array(rows * dim);
    const owner = new Int32Array(rows);
    const faceOf = new Int32Array(rows);
    let r = 0;
    photos.forEach((p, o) =>
      p.faces.forEach((f, i) => {
        data.set(f.embedding, r * dim);
        owner[r] = o;
        faceOf[r++] = i;
      }),
    );
    this.matrix = { faces: new FaceMatrix(dim, data, owner, photos.length), photos, faceOf };
    return this.matrix;
  }

  /** Photos holding a face with cosine similarity >= threshold to `query`, best first (one entry per photo). */
  async search(query: Float32Array, threshold: number, limit = Infinity): Promise<Match[]> {
    const { faces, photos, faceOf } = this.buildMatrix();
    if (!faces.rows) return [];
    return (await faces.search(query, threshold, limit)).map((h) => ({ photo: photos[h.owner], face: faceOf[h.row], score: h.score }));
  }
}

