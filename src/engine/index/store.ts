/**
 * The face cache: one SQLite file in the extension's storage, through keyv + @keyv/sqlite.
 * Two kinds of record:
 *   f:<absolute path> -> FileEntry   what a path held when last seen (size, mtime, content hash)
 *   h:<sha256>        -> FacesEntry  the faces of a content, whatever its path: a renamed or
 *                                    moved photo costs no inference
 * The file is opened in WAL mode so a second window can read while one writes, is checked on
 * open, and is moved aside and rebuilt when it is corrupt or from an older schema.
 */
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BoxXYWH, Face, Point } from '../types';

/** Bumped when records change shape; an older cache is rebuilt. */
export const SCHEMA = 1;
export const CACHE_FILE = 'faces.sqlite';

export interface FileEntry {
  size: number;
  mtimeMs: number;
  hash?: string;
  /** Why the file could not be indexed (kept so an unchanged bad file is not retried). */
  error?: { kind: string; message: string };
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

function moveAside(file: string): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, aside);
  for (const ext of ['-wal', '-shm']) if (existsSync(file + ext)) renameSync(file + ext, aside + ext);
  return aside;
}

export class FaceStore {
  private constructor(
    private readonly keyv: Keyv,
    private readonly adapter: KeyvSqlite,
    readonly file: string,
  ) {}

  /**
   * Opens (or creates) the cache in `dir`. `notes` receives what a user should know: a corrupt
   * cache moved aside, an old one rebuilt.
   */
  static async open(dir: string, notes: (message: string) => void = () => {}): Promise<FaceStore> {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, CACHE_FILE);
    if (existsSync(file) && !looksLikeSqlite(file)) {
      notes(`The face cache ${file} was not a database (damaged?); moved it to ${moveAside(file)} and rebuilding.`);
    }
    let store = await FaceStore.connect(file).catch(async (e: unknown) => {
      notes(`The face cache ${file} could not be opened (${(e as Error).message}); moved it to ${moveAside(file)} and rebuilding.`);
      return FaceStore.connect(file);
    });
    const check = await store.adapter.query('PRAGMA quick_check').catch((e: Error) => [{ quick_check: e.message }]);
    const verdict = (check as { quick_check?: string }[])[0]?.quick_check;
    if (verdict !== 'ok') {
      await store.close();
      notes(`The face cache ${file} is damaged (${verdict}); moved it to ${moveAside(file)} and rebuilding.`);
      store = await FaceStore.connect(file);
    }
    const schema = (await store.keyv.get('m:schema')) as number | undefined;
    if (schema !== undefined && schema !== SCHEMA) {
      notes(`The face cache was written by another version of Glimpse (schema ${schema}, this one reads ${SCHEMA}); rebuilding it.`);
      await store.keyv.clear();
    }
    if (schema !== SCHEMA) await store.keyv.set('m:schema', SCHEMA);
    return store;
  }

  private static async connect(file: string): Promise<FaceStore> {
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 15_000 });
    const keyv = new Keyv({ store: adapter, namespace: 'glimpse' });
    const errors: unknown[] = [];
    keyv.on('error', (e: unknown) => errors.push(e));
    // WAL: readers in another window do not block the writer, and commits need no full sync.
    await adapter.query('PRAGMA journal_mode=WAL');
    await adapter.query('PRAGMA synchronous=NORMAL');
    if (errors.length) throw errors[0];
    return new FaceStore(keyv, adapter, file);
  }

  async getFile(key: string): Promise<FileEntry | undefined> {
    return (await this.keyv.get(`f:${key}`)) as FileEntry | undefined;
  }

  async setFile(key: string, e: FileEntry): Promise<void> {
    await this.keyv.set(`f:${key}`, e);
  }

  async deleteFile(key: string): Promise<void> {
    await this.keyv.delete(`f:${key}`);
  }

  async getFaces(hash: string): Promise<FacesEntry | undefined> {
    return (await this.keyv.get(`h:${hash}`)) as FacesEntry | undefined;
  }

  async setFaces(hash: string, e: FacesEntry): Promise<void> {
    await this.keyv.set(`h:${hash}`, e);
  }

  async deleteFaces(hash: string): Promise<void> {
    await this.keyv.delete(`h:${hash}`);
  }

  /** Every record of one kind ('f' files, 'h' faces). */
  async *entries<T>(kind: 'f' | 'h'): AsyncGenerator<[string, T]> {
    const prefix = `${kind}:`;
    const it = this.keyv.iterator;
    if (!it) throw new Error('the cache store cannot be iterated');
    for await (const [key, value] of it.call(this.keyv, undefined)) {
      const k = String(key);
      if (k.startsWith(prefix)) yield [k.slice(prefix.length), value as T];
    }
  }

  async close(): Promise<void> {
    await this.adapter.close().catch(() => undefined);
  }
}
