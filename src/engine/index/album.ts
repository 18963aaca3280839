/**
 * The album index: every face of every photo under the album roots, kept in the face cache and
 * kept true as photos come, change and go. A path whose size and mtime are unchanged is trusted;
 * otherwise its content is hashed, and a known hash reuses its faces (a renamed or moved photo
 * costs no inference); only new content runs the models. Each result is committed as it comes,
 * so an interrupted run resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
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
import { FaceStore, packFaces, unpackFaces, type FileEntry } from './store';

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
}

export interface Match {
  photo: Photo;
  /** Index of the best-matching face in photo.faces. */
  face: number;
  score: number;
}

type Prepared =
  | { kind: 'reuse'; photo: Photo }
  | { kind: 'compute'; photo: Photo; decoded: Promise<DecodedImage> }
  | { kind: 'failed'; photo: Photo };

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

  /** Opens the cache in `cacheDir` and loads what it knows of `roots` (searchable at once). */
  static async open(cacheDir: string, roots: AlbumRoot[], opts: IndexOptions = {}, notes?: (m: string) => void): Promise<AlbumIndex> {
    const store = await FaceStore.open(cacheDir, notes);
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

  private async load(): Promise<void> {
    for await (const [key, entry] of this.store.entries<FileEntry>('f')) {
      const where = this.locate(key);
      const photo = where && (await this.photoFrom({ key, ...where }, entry));
      if (photo) this.photos.set(key, photo);
    }
    this.matrix = undefined;
  }

  /** The faces the cache holds for a content, when this system made them. */
  private async knownFaces(hash: string): Promise<Pick<Photo, 'width' | 'height' | 'faces'> | undefined> {
    const e = await this.store.getFaces(hash);
    return e && e.system === this.system ? { width: e.width, height: e.height, faces: unpackFaces(e) } : undefined;
  }

  /** A photo as its cache records say it was: a failure, or faces this system made (else undefined: to compute). */
  private async photoFrom(item: { key: string; root: number; rel: string }, e: FileEntry): Promise<Photo | undefined> {
    const photo: Photo = { ...item, size: e.size, mtimeMs: e.mtimeMs, hash: e.hash, width: 0, height: 0, faces: [], error: e.error };
    if (e.error) return photo;
    const known = e.hash ? await this.knownFaces(e.hash) : undefined;
    return known && { ...photo, ...known };
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
        await this.forget(key, u);
        // A photo renamed or moved inside the album is not removed: its content is still here.
        if (!photo.hash || !presentHashes.has(photo.hash)) stats.removed++;
      }
      // Stored paths of this cache outside the current roots are left for their own album; faces of
      // contents no path refers to any more are dropped.
      await this.collectGarbage();
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

  private async forget(key: string, u: UpdateOptions): Promise<void> {
    this.photos.delete(key);
    this.matrix = undefined;
    await this.store.deleteFile(key);
    u.onPhoto?.({ key, removed: true });
  }

  private async collectGarbage(): Promise<void> {
    const referenced = new Set<string>();
    for await (const [, e] of this.store.entries<FileEntry>('f')) if (e.hash) referenced.add(e.hash);
    const drop: string[] = [];
    for await (const [hash] of this.store.entries('h')) if (!referenced.has(hash)) drop.push(hash);
    for (const h of drop) await this.store.deleteFaces(h);
  }

  /** Validates, reuses or computes each item; commits each result as it comes. */
  private async process(items: { key: string; root: number; rel: string }[], u: UpdateOptions): Promise<IndexStats> {
    const stats: IndexStats = { files: items.length, computed: 0, reused: 0, removed: 0, failed: 0, faces: 0, seconds: 0 };
    // Photos are read, hashed and decoded (on libuv's thread pool) up to `lookahead` ahead of the one
    // the models work on. One photo at a time: onnxruntime-node runs inference on the calling thread
    // (measured: timers stop during a run), so two photos at once gain nothing.
    const lookahead = Math.max(1, this.opts.lookahead ?? 3);
    const prepared = new Map<number, Promise<Prepared>>();
    let started = 0;
    const fill = (taken: number) => {
      while (started < items.length && started <= taken + lookahead) {
        prepared.set(started, this.prepare(items[started]));
        started++;
      }
    };
    for (let i = 0; i < items.length && !u.signal?.aborted; i++) {
      fill(i);
      const p = await prepared.get(i)!;
      prepared.delete(i);
      let photo = p.photo;
      // A photo with the same bytes read ahead of this one may have been computed since it was prepared.
      const meanwhile = p.kind === 'compute' ? await this.knownFaces(photo.hash!) : undefined;
      if (meanwhile) {
        photo = { ...photo, ...meanwhile };
        stats.reused++;
      } else if (p.kind === 'compute') {
        try {
          const result: PhotoFaces = await (await this.getEngine()).analyze(await p.decoded, this.opts.times);
          photo = { ...photo, width: result.width, height: result.height, faces: result.faces };
          const t = performance.now();
          await this.store.setFaces(photo.hash!, packFaces(this.system, result.width, result.height, result.faces));
          if (this.opts.times) this.opts.times.write += performance.now() - t;
          stats.computed++;
        } catch (e) {
          photo = { ...photo, error: errorInfo(e) };
        }
      } else if (p.kind === 'reuse') stats.reused++;
      if (photo.error) {
        stats.failed++;
        u.onFailed?.(photo);
      }
      const tw = performance.now();
      await this.store.setFile(photo.key, { size: photo.size, mtimeMs: photo.mtimeMs, hash: photo.hash, error: photo.error });
      if (this.opts.times) this.opts.times.write += performance.now() - tw;
      this.photos.set(photo.key, photo);
      this.matrix = undefined;
      u.onPhoto?.(photo);
      u.onProgress?.({ done: i + 1, total: items.length, computed: stats.computed, reused: stats.reused, failed: stats.failed, file: photo.key });
    }
    // Stopped early: let what was started finish, so nothing is left half-read; none of it is committed.
    await Promise.allSettled(prepared.values());
    return stats;
  }

  /** Stat, validate against the cache, read and hash when needed, start decoding when the models must run. */
  private async prepare(item: { key: string; root: number; rel: string }, attempt = 0): Promise<Prepared> {
    const base = { key: item.key, root: item.root, rel: item.rel, width: 0, height: 0, faces: [] as Face[] };
    let st;
    try {
      st = await stat(item.key);
    } catch (e) {
      return { kind: 'failed', photo: { ...base, size: 0, mtimeMs: 0, error: { kind: 'unreadable', message: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` } } };
    }
    const photo: Photo = { ...base, size: st.size, mtimeMs: st.mtimeMs };
    const maxBytes = this.opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const known = this.photos.get(item.key) ?? (await this.cachedPhoto(item));
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) {
      // Trusted: unchanged size and time. A file too large under an older limit is looked at again.
      if (!known.error) return { kind: 'reuse', photo: { ...known, root: item.root, rel: item.rel } };
      if (!(known.error.kind === 'too-large' && st.size <= maxBytes)) return { kind: 'failed', photo: { ...known, root: item.root, rel: item.rel } };
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
        return this.prepare(item, attempt + 1);
      }
      return { kind: 'failed', photo: { ...photo, error: { kind: 'changed', message: 'the file kept changing while it was read; it will be indexed when it settles' } } };
    }
    photo.hash = sha256(buf);
    const cached = await this.knownFaces(photo.hash);
    if (cached) {
      return { kind: 'reuse', photo: { ...photo, ...cached } };
    }
    const t = performance.now();
    const decoded = decodeImage(buf, decodeOptionsOf(this.opts));
    decoded.then(() => this.opts.times && (this.opts.times.decode += performance.now() - t), () => undefined); // awaited in order by process()
    return { kind: 'compute', photo, decoded };
  }

  /** What the store knows of a path not loaded (outside the roots at load time). */
  private async cachedPhoto(item: { key: string; root: number; rel: string }): Promise<Photo | undefined> {
    const e = await this.store.getFile(item.key);
    return e && this.photoFrom(item, e);
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

