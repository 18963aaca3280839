/**
 * The face store: one SQLite file per machine (the extension's global storage, or the CLI's
 * ~/.cache/glimpse), through keyv + @keyv/sqlite, shared by every window, workspace and album.
 * Both kinds of record are facts about this machine's files, whichever album asks:
 *   f:<absolute path>      -> FileEntry   what a path held when last seen (size, mtime, content hash, verdict)
 *   h:<sha256>:<system>    -> FacesEntry  the faces one system (models) found in a content, whatever its
 *                                         path: a renamed, moved or copied photo, or the same folder
 *                                         in another workspace, costs no inference
 * The file is in WAL mode with a busy timeout, so several processes (windows on different albums,
 * the CLI) write it at once. Every write is checked: a failure throws a StoreError naming the cause
 * and the folder. A record that cannot be read is dropped (and so recomputed), with a note; a file
 * SQLite reports damaged is moved aside and rebuilt.
 */
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BoxXYWH, Face, Point } from '../types';

/** Bumped when records change shape. 2: faces keyed by content and system, one store per machine. */
export const SCHEMA = 2;
export const CACHE_FILE = 'faces.sqlite';
const NAMESPACE = 'glimpse';
const TABLE = 'keyv';
const F = `${NAMESPACE}:f:`;
const H = `${NAMESPACE}:h:`;
/** The first key after every key starting with `prefix` (its last character, one up). */
const after = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

export interface FileError {
  kind: string;
  message: string;
}

export interface FileEntry {
  size: number;
  mtimeMs: number;
  hash?: string;
  /** Why the file could not be indexed. Kept so that an unchanged file with a permanent verdict is not retried. */
  error?: FileError;
}

/**
 * Verdicts about a content: an unchanged file that got one is not read again. Anything else (a
 * read error such as EACCES, EIO or EMFILE, a file that changed while read, a failure of the
 * models) is retried on the next run.
 */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set(['empty', 'truncated', 'not-an-image', 'corrupt', 'too-large', 'too-many-pixels']);

export function isPermanent(e: FileError | undefined): boolean {
  return !!e && PERMANENT_ERRORS.has(e.kind);
}

export interface FacesEntry {
  /** The detector, embedder and engine version that made these faces. */
  system: string;
  width: number;
  height: number;
  count: number;
  dim: number;
  /** Faces packed as float32 (box 4, score 1, landmarks 10, embedding dim), base64. */
  packed: string;
}

const FACE_HEADER = 15;

export function packFaces(system: string, width: number, height: number, faces: readonly Face[]): FacesEntry {
  const dim = faces[0]?.embedding.length ?? 0;
  const per = FACE_HEADER + dim;
  const buf = new Float32Array(faces.length * per);
  faces.forEach((f, i) => {
    const o = i * per;
    buf.set(f.box, o);
    buf[o + 4] = f.score;
    f.landmarks.forEach(([x, y], k) => {
      buf[o + 5 + 2 * k] = x;
      buf[o + 6 + 2 * k] = y;
    });
    buf.set(f.embedding, o + FACE_HEADER);
  });
  return { system, width, height, count: faces.length, dim, packed: Buffer.from(buf.buffer).toString('base64') };
}

export function unpackFaces(e: FacesEntry): Face[] {
  const raw = Buffer.from(e.packed, 'base64');
  const buf = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const per = FACE_HEADER + e.dim;
  const faces: Face[] = [];
  for (let i = 0; i < e.count; i++) {
    const o = i * per;
    const landmarks: Point[] = [];
    for (let k = 0; k < 5; k++) landmarks.push([buf[o + 5 + 2 * k], buf[o + 6 + 2 * k]]);
    faces.push({
      box: Array.from(buf.subarray(o, o + 4)) as BoxXYWH,
      score: buf[o + 4],
      landmarks,
      embedding: buf.slice(o + FACE_HEADER, o + per),
    });
  }
  return faces;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const HASH = /^[0-9a-f]{64}$/;

/** Why a file record cannot be used, or undefined when it is sound. */
function fileEntryFault(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return 'not a record';
  const f = e as Partial<FileEntry>;
  if (!isNum(f.size) || !isNum(f.mtimeMs)) return 'no size or time';
  if (f.hash !== undefined && !(typeof f.hash === 'string' && HASH.test(f.hash))) return 'bad content hash';
  if (f.error !== undefined && !(f.error && typeof f.error.kind === 'string' && typeof f.error.message === 'string')) return 'bad verdict';
  return undefined;
}

/** Why a faces record cannot be used, or undefined when it is sound. */
function facesEntryFault(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return 'not a record';
  const f = e as Partial<FacesEntry>;
  if (typeof f.system !== 'string' || !isNum(f.width) || !isNum(f.height)) return 'no system or size';
  if (!Number.isInteger(f.count) || !Number.isInteger(f.dim) || f.count! < 0 || f.dim! < 0 || typeof f.packed !== 'string') return 'bad face count';
  const bytes = f.count! * (FACE_HEADER + f.dim!) * 4;
  if (f.packed.length !== Math.ceil(bytes / 3) * 4) return 'faces cut short';
  return undefined;
}

/** Why the store could not do what it was asked, in words a user can act on. */
function reasonOf(e: unknown): { code?: string; reason: string } {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const msg = e instanceof Error ? e.message : String(e);
  const reason = (() => {
    switch (code) {
      case 'SQLITE_FULL':
      case 'ENOSPC':
        return 'the disk is full';
      case 'SQLITE_READONLY':
      case 'EROFS':
        return 'it is read-only';
      case 'EACCES':
      case 'EPERM':
      case 'SQLITE_PERM':
      case 'SQLITE_AUTH':
        return 'permission denied';
      case 'SQLITE_IOERR':
      case 'EIO':
        return 'an I/O error';
      case 'SQLITE_CORRUPT':
      case 'SQLITE_NOTADB':
        return 'the cache file is damaged (it is moved aside and rebuilt when Glimpse next opens it)';
      case 'SQLITE_BUSY':
      case 'SQLITE_LOCKED':
        return 'another process kept it locked for too long';
      case 'SQLITE_CANTOPEN':
        return 'the cache file cannot be opened';
      default:
        return msg.replace(/^SQLITE_\w+: /, '');
    }
  })();
  return { code, reason };
}

/**
 * The store could not read or write: the cause (disk full, read-only, I/O error...) and the folder.
 * Stops a run; nothing it did not say was stored is counted as stored.
 */
export class StoreError extends Error {
  readonly code?: string;
  /** What the run that stopped on this error had stored by then. */
  partial?: { files: number; computed: number; reused: number; failed: number };
  constructor(
    readonly dir: string,
    what: string,
    cause: unknown,
  ) {
    const { code, reason } = reasonOf(cause);
    super(`cannot ${what} the face cache in ${dir}: ${reason}${code ? ` (${code})` : ''}`, { cause });
    this.name = 'StoreError';
    this.code = code;
  }
}

const SQLITE_MAGIC = 'SQLite format 3\0';

function looksLikeSqlite(file: string): boolean {
  if (statSync(file).size === 0) return true; // created, never written: SQLite accepts it
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

/** Moves a damaged store aside, unless another process did already (then the file there is its new one). */
function moveAside(file: string, ino: number | undefined): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const now = statSync(file, { throwIfNoEntry: false });
  if (!now || (ino !== undefined && now.ino !== ino)) return `${aside} (by another window)`;
  renameSync(file, aside);
  for (const ext of ['-wal', '-shm']) if (existsSync(file + ext)) renameSync(file + ext, aside + ext);
  return aside;
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync loops for ever where mkdir fails with
 * ENOENT under a folder that exists (seen under /proc).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Makes `dir` the store's folder, or says in one line why it cannot be. */
function ensureDir(dir: string): void {
  let st;
  try {
    st = statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new StoreError(dir, 'create', Object.assign(new Error('a part of its path is a file'), { code }));
    throw new StoreError(dir, 'use', e);
  }
  if (st && !st.isDirectory()) throw new StoreError(dir, 'use', Object.assign(new Error('it is a file, not a folder'), { code: 'ENOTDIR' }));
  if (st) return;
  try {
    makeDirs(path.resolve(dir));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A file where a parent folder should be.
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new StoreError(dir, 'create', Object.assign(new Error('a part of its path is a file'), { code }));
    throw new StoreError(dir, 'create', e);
  }
}

type Row = { key: string; value: string };

export class FaceStore {
  private constructor(
    private readonly keyv: Keyv,
    private readonly adapter: KeyvSqlite,
    readonly file: string,
    readonly dir: string,
    private readonly notes: (message: string) => void,
  ) {}

  /**
   * Opens (or creates) the store in `dir`. `notes` receives what a user should know: a damaged
   * store moved aside, an old one rebuilt, a record dropped. Throws a StoreError when `dir` is
   * not a folder that can be made and written.
   */
  static async open(dir: string, notes: (message: string) => void = () => {}): Promise<FaceStore> {
    ensureDir(dir);
    const file = path.join(dir, CACHE_FILE);
    const ino = () => statSync(file, { throwIfNoEntry: false })?.ino;
    if (existsSync(file) && !looksLikeSqlite(file)) {
      notes(`The face cache ${file} was not a database (damaged?); moved it to ${moveAside(file, ino())} and rebuilding.`);
    }
    let seen = ino();
    let store = await FaceStore.connect(file, dir, notes).catch(async (e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') throw new StoreError(dir, 'open', e);
      notes(`The face cache ${file} could not be opened (${(e as Error).message}); moved it to ${moveAside(file, seen)} and rebuilding.`);
      return FaceStore.connect(file, dir, notes).catch((e2: unknown) => Promise.reject(new StoreError(dir, 'open', e2)));
    });
    seen = ino();
    const check = await store.adapter.query('PRAGMA quick_check').catch((e: Error) => [{ quick_check: e.message }]);
    const verdict = (check as { quick_check?: string }[])[0]?.quick_check;
    if (verdict !== 'ok') {
      await store.close();
      notes(`The face cache ${file} is damaged (${verdict}); moved it to ${moveAside(file, seen)} and rebuilding.`);
      store = await FaceStore.connect(file, dir, notes).catch((e: unknown) => Promise.reject(new StoreError(dir, 'open', e)));
    }
    try {
      await store.upgrade();
    } catch (e) {
      await store.close();
      throw e instanceof StoreError ? e : new StoreError(dir, 'write', e);
    }
    return store;
  }

  private static async connect(file: string, dir: string, notes: (m: string) => void): Promise<FaceStore> {
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 15_000 });
    // Errors are thrown by each call (checked there); the listener keeps an unhandled 'error' event from killing the process.
    const keyv = new Keyv({ store: adapter, namespace: NAMESPACE, throwOnErrors: true });
    keyv.on('error', () => undefined);
    const store = new FaceStore(keyv, adapter, file, dir, notes);
    try {
      // WAL: readers do not block the writer, writers of other albums wait on the busy timeout,
      // and commits need no full sync.
      await adapter.query('PRAGMA journal_mode=WAL');
      await adapter.query('PRAGMA synchronous=NORMAL');
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  /** Brings an older store to this schema: schema 1 (faces keyed by content alone) is rekeyed; others are cleared. */
  private async upgrade(): Promise<void> {
    let schema: unknown;
    try {
      schema = await this.keyv.get('m:schema');
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw new StoreError(this.dir, 'read', e);
      this.notes('The face cache\'s version record was damaged; rewriting it.');
    }
    if (schema === SCHEMA) return;
    if (schema === 1) {
      await this.run('write', `UPDATE OR REPLACE ${TABLE} SET key = key || ':' || json_extract(value, '$.value.system') WHERE key >= ? AND key < ? AND length(key) = ? AND json_valid(value) AND json_type(value, '$.value.system') = 'text'`, H, after(H), H.length + 64);
      await this.run('write', `DELETE FROM ${TABLE} WHERE key >= ? AND key < ? AND length(key) = ?`, H, after(H), H.length + 64);
      this.notes('The face cache was written by an older Glimpse (schema 1); its faces are kept under the new layout.');
    } else if (schema !== undefined) {
      this.notes(`The face cache was written by another version of Glimpse (schema ${String(schema)}, this one reads ${SCHEMA}); rebuilding it.`);
      await this.run('write', `DELETE FROM ${TABLE} WHERE key LIKE ?`, `${NAMESPACE}:%`);
    }
    await this.set('m:schema', SCHEMA);
  }

  private async run(what: 'read' | 'write', sql: string, ...params: unknown[]): Promise<Row[]> {
    try {
      return (await this.adapter.query(sql, ...params)) as Row[];
    } catch (e) {
      throw new StoreError(this.dir, what, e);
    }
  }

  private async set(key: string, value: unknown): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.keyv.set(key, value);
    } catch (e) {
      throw new StoreError(this.dir, 'write', e);
    }
    if (!ok) throw new StoreError(this.dir, 'write', new Error('the write was refused'));
  }

  private async delete(key: string): Promise<void> {
    try {
      await this.keyv.delete(key);
    } catch (e) {
      throw new StoreError(this.dir, 'write', e);
    }
  }

  /** A record's value, or undefined when it is damaged (then it is dropped, with a note). */
  private async decode<T>(key: string, raw: string, fault: (v: unknown) => string | undefined): Promise<T | undefined> {
    let why: string | undefined;
    let value: unknown;
    try {
      const deserialize = this.keyv.deserialize ?? ((t: string) => JSON.parse(t) as unknown);
      value = ((await deserialize(raw)) as { value?: unknown } | undefined)?.value;
      why = fault(value);
    } catch (e) {
      why = (e as Error).message;
    }
    if (why === undefined) return value as T;
    this.notes(`A record of the face cache could not be read (${key.slice(NAMESPACE.length + 1)}: ${why}); dropped it, its photo is indexed again.`);
    await this.run('write', `DELETE FROM ${TABLE} WHERE key = ?`, key);
    return undefined;
  }

  private async getRaw(key: string): Promise<string | undefined> {
    return (await this.run('read', `SELECT value FROM ${TABLE} WHERE key = ?`, key))[0]?.value;
  }

  async getFile(key: string): Promise<FileEntry | undefined> {
    const k = F + key;
    const raw = await this.getRaw(k);
    return raw === undefined ? undefined : this.decode<FileEntry>(k, raw, fileEntryFault);
  }

  async setFile(key: string, e: FileEntry): Promise<void> {
    await this.set(`f:${key}`, e);
  }

  async deleteFile(key: string): Promise<void> {
    await this.delete(`f:${key}`);
  }

  /**
   * Every file record under `folder` (absolute), by key range: the other albums' records are not
   * read. Damaged records are dropped.
   */
  async filesUnder(folder: string): Promise<[string, FileEntry][]> {
    const prefix = F + (folder.endsWith(path.sep) ? folder : folder + path.sep);
    const rows = await this.run('read', `SELECT key, value FROM ${TABLE} WHERE key >= ? AND key < ?`, prefix, after(prefix));
    const out: [string, FileEntry][] = [];
    for (const r of rows) {
      const e = await this.decode<FileEntry>(r.key, r.value, fileEntryFault);
      if (e) out.push([r.key.slice(F.length), e]);
    }
    return out;
  }

  async getFaces(hash: string, system: string): Promise<FacesEntry | undefined> {
    const k = `${H}${hash}:${system}`;
    const raw = await this.getRaw(k);
    return raw === undefined ? undefined : this.decode<FacesEntry>(k, raw, facesEntryFault);
  }

  /** The faces `system` made of each of `hashes` that the store holds. */
  async facesMany(hashes: readonly string[], system: string): Promise<Map<string, FacesEntry>> {
    const out = new Map<string, FacesEntry>();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += 500) {
      const keys = unique.slice(i, i + 500).map((h) => `${H}${h}:${system}`);
      const rows = await this.run('read', `SELECT key, value FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`, JSON.stringify(keys));
      for (const r of rows) {
        const e = await this.decode<FacesEntry>(r.key, r.value, facesEntryFault);
        if (e) out.set(r.key.slice(H.length, H.length + 64), e);
      }
    }
    return out;
  }

  async setFaces(hash: string, e: FacesEntry): Promise<void> {
    await this.set(`h:${hash}:${e.system}`, e);
  }

  /**
   * Drops the faces (of every system) of contents that no path record of the store refers to, in
   * one statement: a window that records a path before its faces (as AlbumIndex does) never loses
   * faces it is writing, and faces another album uses are kept. Returns how many were dropped.
   */
  async collectGarbage(): Promise<number> {
    const before = await this.run('read', `SELECT count(*) AS n FROM ${TABLE} WHERE key >= ? AND key < ?`, H, after(H));
    await this.run(
      'write',
      `DELETE FROM ${TABLE} WHERE key >= ? AND key < ? AND substr(key, ?, 64) NOT IN (
         SELECT json_extract(value, '$.value.hash') FROM ${TABLE}
         WHERE key >= ? AND key < ? AND json_valid(value) AND json_type(value, '$.value.hash') = 'text')`,
      H,
      after(H),
      H.length + 1,
      F,
      after(F),
    );
    const now = await this.run('read', `SELECT count(*) AS n FROM ${TABLE} WHERE key >= ? AND key < ?`, H, after(H));
    return Number((before[0] as unknown as { n: number }).n) - Number((now[0] as unknown as { n: number }).n);
  }

  /**
   * Copies the records of an older per-workspace cache (schema 1) into this store, keeping what this
   * store knows already. Returns what was copied, or undefined when the file is not such a cache.
   */
  async importLegacy(file: string): Promise<{ files: number; faces: number } | undefined> {
    if (!existsSync(file)) return undefined;
    try {
      await this.adapter.query('ATTACH DATABASE ? AS legacy', file);
    } catch {
      return undefined;
    }
    try {
      const schema = await this.run('read', `SELECT value FROM legacy.${TABLE} WHERE key = ?`, `${NAMESPACE}:m:schema`).catch(() => []);
      if (schema[0]?.value !== JSON.stringify({ value: 1 })) return undefined;
      const count = async () => (await this.run('read', `SELECT count(*) AS n FROM ${TABLE} WHERE key >= ? AND key < ?`, `${NAMESPACE}:`, `${NAMESPACE};`))[0] as unknown as { n: number };
      const n0 = Number((await count()).n);
      // Paths first, faces second: a garbage collection in between keeps the faces (see collectGarbage).
      await this.run('write', `INSERT OR IGNORE INTO main.${TABLE} (key, value) SELECT key, value FROM legacy.${TABLE} WHERE key >= ? AND key < ? AND json_valid(value)`, F, after(F));
      const n1 = Number((await count()).n);
      await this.run(
        'write',
        `INSERT OR IGNORE INTO main.${TABLE} (key, value) SELECT key || ':' || json_extract(value, '$.value.system'), value FROM legacy.${TABLE}
         WHERE key >= ? AND key < ? AND length(key) = ? AND json_valid(value) AND json_type(value, '$.value.system') = 'text'`,
        H,
        after(H),
        H.length + 64,
      );
      const n2 = Number((await count()).n);
      return { files: n1 - n0, faces: n2 - n1 };
    } finally {
      await this.adapter.query('DETACH DATABASE legacy').catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.adapter.close().catch(() => undefined);
  }
}
