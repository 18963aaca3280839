/**
 * The face store under real faults: a full disk (a small tmpfs where this machine lets us mount
 * one), damaged records, a photo unreadable for a while, two processes writing at once, a second
 * window on an indexed album, and an older per-workspace cache.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, statfsSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AlbumIndex } from '../src/engine/index/album';
import { IndexServiceClient } from '../src/engine/index/client';
import type { ServiceEvent, ServiceProgress } from '../src/engine/index/service-protocol';
import { CACHE_FILE, FaceStore, StoreError } from '../src/engine/index/store';
import { makeAlbum } from './helpers/album';
import { ROOT } from './helpers/photos';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const WORKER = path.join(ROOT, 'dist', 'index-worker.js');
const run = promisify(execFile);

/** Straight SQL on a store file, bypassing Glimpse (the sqlite3 module @keyv/sqlite uses). */
async function sql(file: string, query: string, ...params: unknown[]): Promise<{ key: string; value: string }[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sqlite3 = require('sqlite3') as typeof import('sqlite3');
  const db = new sqlite3.Database(file);
  try {
    return await new Promise((resolve, reject) => db.all(query, params, (e, rows) => (e ? reject(e) : resolve(rows as { key: string; value: string }[]))));
  } finally {
    await new Promise((r) => db.close(r));
  }
}

/** A cache folder on a real full disk: a tmpfs of a few MB, filled up with a plain file. */
interface FullDisk {
  dir: string;
  kind: 'tmpfs' | 'injected';
  /** Fills the disk but for `leave` bytes (tmpfs), or makes writes fail after `leave / 20 kB` of them (injected). */
  fill(store: FaceStore, leave: number): void;
  /** Space again. */
  free(): void;
  dispose(): void;
}

function fullDisk(parent: string): FullDisk {
  const dir = path.join(parent, 'cache');
  mkdirSync(dir);
  let mounted = false;
  // GLIMPSE_TEST_NO_MOUNT=1 runs the fallback here too (as CI without root would).
  if (process.getuid?.() === 0 && !process.env.GLIMPSE_TEST_NO_MOUNT) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', dir], { stdio: 'pipe' });
      mounted = true;
    } catch {
      /* not permitted here (a container without CAP_SYS_ADMIN): inject the failure instead */
    }
  }
  const filler = path.join(dir, 'filler');
  let undo: (() => void) | undefined;
  return {
    dir,
    kind: mounted ? 'tmpfs' : 'injected',
    fill(store, leave) {
      if (mounted) {
        const fs = statfsSync(dir);
        writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - leave)));
        return;
      }
      // The store's boundary: the adapter's query, which every read and write goes through.
      const adapter = (store as unknown as { adapter: { query: (q: string, ...p: unknown[]) => Promise<unknown> } }).adapter;
      const query = adapter.query;
      let writes = Math.floor(leave / 20_000);
      adapter.query = (q: string, ...p: unknown[]) => {
        if (/^\s*(INSERT|UPDATE|DELETE)/i.test(q) && writes-- <= 0) return Promise.reject(Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL', errno: 13 }));
        return query(q, ...p);
      };
      undo = () => (adapter.query = query);
    },
    free() {
      if (mounted) rmSync(filler, { force: true });
      undo?.();
    },
    dispose() {
      if (mounted) execFileSync('umount', ['-l', dir]);
    },
  };
}

describe('face store faults', function () {
  let work: string;
  beforeEach(() => (work = mkdtempSync(path.join(tmpdir(), 'glimpse-store-'))));
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  describe('a cache on a full disk', function () {
    let disk: FullDisk;
    beforeEach(() => {
      disk = fullDisk(work);
      console.log(disk.kind === 'tmpfs' ? '      (a real full disk: an 8 MB tmpfs filled with a file)' : '      (no tmpfs could be mounted (not root, not permitted, or GLIMPSE_TEST_NO_MOUNT): SQLITE_FULL injected at the store\'s adapter)');
    });
    afterEach(() => disk.dispose());

    it('stops with the cause and the folder, counts only what was stored, keeps it, and completes once there is space', async () => {
      const album = path.join(work, 'album');
      mkdirSync(album);
      const photos = await makeAlbum(album, 16);
      const store = await FaceStore.open(disk.dir);
      disk.fill(store, 100_000);
      const index = await AlbumIndex.open(store, [{ path: album }]);
      const told = new Map<string, number>();
      const error = await index.update({ onPhoto: (p) => 'faces' in p && !p.error && told.set(p.key, p.faces.length) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await index.close();
      assert.ok(error instanceof StoreError, `the run fails: ${String(error)}`);
      assert.equal(error.code, 'SQLITE_FULL');
      assert.equal(error.message, `cannot write the face cache in ${disk.dir}: the disk is full (SQLITE_FULL)`);
      const stored = error.partial!;
      assert.ok(stored.computed >= 1 && stored.computed < photos.length, `stopped midway: ${stored.computed} of ${photos.length}`);
      assert.equal(told.size, stored.computed, 'a photo is reported only once stored');

      const again = await AlbumIndex.open(disk.dir, [{ path: album }]);
      assert.equal(again.size, stored.computed, 'exactly the photos counted are in the cache');
      for (const [key, faces] of told) assert.equal(again.get(key)?.faces.length, faces, `${key} kept`);
      disk.free();
      const done = await again.update();
      assert.deepEqual([done.computed, done.reused, done.failed], [photos.length - stored.computed, stored.computed, 0]);
      await again.close();
    });

    it('service: reports state error with the cause and the folder (what the status bar and the notification show)', async function () {
      if (disk.kind !== 'tmpfs') this.skip(); // a child process cannot be injected into
      const album = path.join(work, 'album');
      mkdirSync(album);
      const photos = await makeAlbum(album, 16);
      const store = await FaceStore.open(disk.dir);
      await store.close();
      disk.fill(store, 100_000);
      let done!: (p: ServiceProgress) => void;
      const ended = new Promise<ServiceProgress>((r) => (done = r));
      const client = new IndexServiceClient({
        workerPath: WORKER,
        onEvent: (e) => e.event === 'progress' && (e.progress.state === 'idle' || e.progress.state === 'error') && done(e.progress),
      });
      client.start();
      try {
        await client.request('init', { roots: [{ path: album }], cacheDir: disk.dir, thumbsDir: path.join(work, 'thumbs'), index: {}, autoStart: true });
        const p = await ended;
        assert.equal(p.state, 'error');
        assert.equal(p.error, `Indexing stopped: cannot write the face cache in ${disk.dir}: the disk is full (SQLITE_FULL)`);
        assert.ok(p.computed < photos.length && p.photos === p.computed, `${p.computed} computed, ${p.photos} in the index`);
      } finally {
        await client.stop();
      }
    });

    it('CLI: index exits 1 with one line naming the cause and the cache folder, prints no success', async function () {
      if (disk.kind !== 'tmpfs') this.skip(); // a child process cannot be injected into
      const album = path.join(work, 'album');
      mkdirSync(album);
      const photos = await makeAlbum(album, 16);
      const store = await FaceStore.open(disk.dir);
      await store.close();
      disk.fill(store, 100_000);
      const r = await run(process.execPath, [CLI, 'index', album, '--cache', disk.dir, '--json', '--quiet']).then(
        () => undefined,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      assert.ok(r, 'the run fails');
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^glimpse: cannot write the face cache in ${disk.dir}: the disk is full \\(SQLITE_FULL\\); (\\d+) of ${photos.length} photos stored \\((\\d+) computed\\), the rest not indexed$`));
      const stored = Number(/(\d+) computed/.exec(lines[0])![1]);
      disk.free();
      const { stdout } = await run(process.execPath, [CLI, 'index', album, '--cache', disk.dir, '--json', '--quiet']);
      const s = JSON.parse(stdout) as { computed: number; reused: number; failed: number };
      assert.deepEqual([s.computed, s.reused, s.failed], [photos.length - stored, stored, 0]);
    });
  });

  it('drops a damaged record with a note, recomputes it, and keeps the rest (engine and CLI)', async () => {
    const album = path.join(work, 'album');
    const cache = path.join(work, 'cache');
    mkdirSync(album);
    const photos = await makeAlbum(album, 6);
    let index = await AlbumIndex.open(cache, [{ path: album }]);
    await index.update();
    const [a, b] = [index.get(path.join(album, photos[0].rel))!, index.get(path.join(album, photos[1].rel))!];
    await index.close();
    const file = path.join(cache, CACHE_FILE);
    // Bad JSON in a path record; a faces record cut short (valid JSON, too few bytes of faces).
    await sql(file, 'UPDATE keyv SET value = ? WHERE key = ?', '{"value":{"size":12', `glimpse:f:${a.key}`);
    const [hrow] = await sql(file, 'SELECT key, value FROM keyv WHERE key LIKE ?', `glimpse:h:${b.hash}:%`);
    const cut = JSON.parse(hrow.value) as { value: { packed: string } };
    cut.value.packed = cut.value.packed.slice(0, 40);
    await sql(file, 'UPDATE keyv SET value = ? WHERE key = ?', JSON.stringify(cut), hrow.key);

    const notes: string[] = [];
    index = await AlbumIndex.open(cache, [{ path: album }], {}, (m) => notes.push(m));
    const stats = await index.update();
    assert.equal(notes.length, 2, notes.join('\n'));
    assert.match(notes[0], new RegExp(`could not be read \\(f:${a.key}: .*JSON.*\\); dropped it`));
    assert.match(notes[1], /could not be read \(h:[0-9a-f]{64}:.*faces cut short\); dropped it/);
    // a's faces were intact (found again by its content); b's faces are computed again.
    assert.deepEqual([stats.computed, stats.reused, stats.failed], [1, photos.length - 1, 0]);
    assert.equal(index.get(a.key)!.faces.length, a.faces.length);
    assert.deepEqual(index.get(b.key)!.faces.map((f) => f.box.map(Math.round)), b.faces.map((f) => f.box.map(Math.round)));
    await index.close();
    for (const r of await sql(file, 'SELECT key, value FROM keyv')) JSON.parse(r.value); // every record sound again

    // The CLI on a damaged record: it says so and goes on (it used to exit 1 on a SyntaxError for good).
    await sql(file, 'UPDATE keyv SET value = ? WHERE key = ?', 'not json at all', `glimpse:f:${b.key}`);
    const { stdout, stderr } = await run(process.execPath, [CLI, 'index', album, '--cache', cache, '--json']);
    assert.match(stderr, /could not be read .*dropped it/);
    const s = JSON.parse(stdout) as { computed: number; reused: number; failed: number };
    assert.deepEqual([s.computed, s.reused, s.failed], [0, photos.length, 0]);
  });

  it('retries a photo that could not be read (EACCES) on the next run, though its size and time are unchanged', async function () {
    // As root, permissions do not stop reads: the CLI runs as the user nobody, and the photo's mode
    // denies it a real EACCES. As another user, that user's own permissions do.
    const root = process.getuid?.() === 0;
    const as = root ? { uid: 65534, gid: 65534 } : {};
    const album = path.join(work, 'album');
    const cache = path.join(work, 'cache');
    mkdirSync(album);
    mkdirSync(cache);
    chmodSync(work, 0o755);
    chmodSync(album, 0o755);
    chmodSync(cache, 0o777);
    const photos = await makeAlbum(album, 4);
    for (const p of photos) chmodSync(path.dirname(path.join(album, p.rel)), 0o755);
    const locked = path.join(album, photos[2].rel);
    const before = statSync(locked);
    chmodSync(locked, 0o000);
    const index = (env: object = {}) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'index', album, '--cache', cache, '--json'], { ...as, env: { ...process.env, HOME: cache, ...env } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const first = await index();
    if (first.code !== 0 && /EACCES|EPERM/.test(first.stderr) && !/cannot read file/.test(first.stderr)) {
      console.log(`      (cannot run the CLI as another user here: ${first.stderr.trim().split('\n')[0]})`);
      this.skip();
    }
    console.log(`      (a real EACCES: the CLI runs as ${root ? 'nobody (uid 65534)' : 'this user'} on a photo of mode 000)`);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`${photos[2].rel}: cannot read file: EACCES`));
    const s1 = JSON.parse(first.stdout) as { computed: number; failed: number };
    assert.deepEqual([s1.computed, s1.failed], [photos.length - 1, 1]);

    chmodSync(locked, 0o644);
    const after = statSync(locked);
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs], 'chmod changes neither size nor mtime');
    const second = await index();
    assert.equal(second.code, 0, second.stderr);
    const s2 = JSON.parse(second.stdout) as { computed: number; reused: number; failed: number };
    assert.deepEqual([s2.computed, s2.reused, s2.failed], [1, photos.length - 1, 0], 'the photo is read again and indexed');
  });

  it('takes two processes writing the shared store at once, one collecting garbage: no record lost, no error', async function () {
    this.timeout(120_000);
    const cache = path.join(work, 'cache');
    const writer = path.join(__dirname, 'helpers', 'store-writer.js');
    const N = 1500;
    const start = (id: string, gc: boolean) =>
      new Promise<{ id: string; written: number; startMs: number; endMs: number }>((resolve, reject) => {
        const child = spawn(process.execPath, [writer, cache, id, String(N), ...(gc ? ['gc'] : [])]);
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => (code === 0 && !err ? resolve(JSON.parse(out)) : reject(new Error(`writer ${id} exited ${code}: ${err}`))));
      });
    const [a, b] = await Promise.all([start('a', true), start('b', false)]);
    assert.ok(a.startMs < b.endMs && b.startMs < a.endMs, 'the two wrote at the same time');
    const store = await FaceStore.open(cache);
    for (const id of ['a', 'b']) {
      const files = await store.filesUnder(`/glimpse-writer-${id}`);
      assert.equal(files.length, N, `every path record of ${id}`);
      const faces = await store.facesMany(files.map(([, e]) => e.hash!), 'test-system');
      assert.equal(faces.size, N, `every faces record of ${id} (none collected while its path was being written)`);
    }
    await store.close();
    console.log(`      2 x ${N} photos' records written in ${((Math.max(a.endMs, b.endMs) - Math.min(a.startMs, b.startMs)) / 1000).toFixed(1)} s, overlapping ${((Math.min(a.endMs, b.endMs) - Math.max(a.startMs, b.startMs)) / 1000).toFixed(1)} s`);
  });

  it('a second window (service) on an indexed album, a multi-root workspace holding it, or a sub-folder alone, reads no photo and computes nothing', async function () {
    this.timeout(180_000);
    const parent = path.join(work, 'home');
    const album = path.join(parent, 'album');
    const global = path.join(work, 'global-storage');
    mkdirSync(path.join(album, 'trip'), { recursive: true });
    const photos = [...(await makeAlbum(album, 6)), ...(await makeAlbum(path.join(album, 'trip'), 6)).map((p) => ({ ...p, rel: `trip/${p.rel}` }))];
    // Whole seconds: the times are put back exactly after the bytes are replaced below.
    const t = Math.floor(Date.now() / 1000) - 3600;
    for (const p of photos) utimesSync(path.join(album, p.rel), t, t);

    const service = async (roots: string[], workspace: string) => {
      const events: ServiceEvent[] = [];
      let done!: (p: ServiceProgress) => void;
      const idle = new Promise<ServiceProgress>((r) => (done = r));
      const client = new IndexServiceClient({
        workerPath: WORKER,
        onEvent: (e) => {
          events.push(e);
          if (e.event === 'progress' && (e.progress.state === 'idle' || e.progress.state === 'error')) done(e.progress);
        },
      });
      client.start();
      await client.request('init', {
        roots: roots.map((r) => ({ path: r })),
        cacheDir: path.join(global, 'index'),
        thumbsDir: path.join(global, 'thumbs'),
        legacy: [path.join(workspace, 'index-mobilefacenet'), path.join(workspace, 'thumbs')],
        index: {},
        autoStart: true,
      });
      const progress = await idle;
      await client.stop();
      return { progress, events };
    };
    const first = await service([album], path.join(work, 'workspace-1'));
    // trip/ holds copies of the first photos: computed once, reused for the copies.
    assert.deepEqual([first.progress.computed + first.progress.reused, first.progress.failed, first.progress.photos], [photos.length, 0, photos.length]);
    assert.ok(first.progress.computed >= 6);

    // Every photo's bytes replaced by others of the same size, with the same time: reading any of
    // them would fail (not an image) or compute.
    for (const p of photos) {
      const f = path.join(album, p.rel);
      writeFileSync(f, Buffer.alloc(statSync(f).size, 0x20));
      utimesSync(f, t, t);
    }
    const second = await service([album], path.join(work, 'workspace-2'));
    assert.deepEqual([second.progress.computed, second.progress.reused, second.progress.failed], [0, photos.length, 0]);
    assert.equal(second.progress.faces, first.progress.faces);

    const other = path.join(work, 'other');
    mkdirSync(other);
    const multi = await service([other, album], path.join(work, 'workspace-3'));
    assert.deepEqual([multi.progress.computed, multi.progress.failed, multi.progress.photos], [0, 0, photos.length]);

    const larger = await AlbumIndex.open(path.join(global, 'index'), [{ path: parent }]);
    const l = await larger.update();
    assert.deepEqual([l.computed, l.failed, l.files], [0, 0, photos.length]);
    await larger.close();
    const sub = await AlbumIndex.open(path.join(global, 'index'), [{ path: path.join(album, 'trip') }]);
    const s = await sub.update();
    assert.deepEqual([s.computed, s.failed, s.files], [0, 0, 6]);
    await sub.close();
    // The sub-folder's scan left the rest of the album's records alone.
    const whole = await AlbumIndex.open(path.join(global, 'index'), [{ path: album }]);
    assert.equal(whole.size, photos.length);
    await whole.close();
  });

  it('two windows opened together on one album: one computes, the other waits and shows its results', async function () {
    this.timeout(120_000);
    const album = path.join(work, 'album');
    mkdirSync(album);
    const photos = await makeAlbum(album, 8);
    const global = path.join(work, 'global');
    const windows = [0, 1].map(() => {
      const w = { states: [] as ServiceProgress[], client: undefined as unknown as IndexServiceClient };
      w.client = new IndexServiceClient({ workerPath: WORKER, onEvent: (e) => e.event === 'progress' && w.states.push(e.progress) });
      return w;
    });
    const init = { roots: [{ path: album }], cacheDir: path.join(global, 'index'), thumbsDir: path.join(global, 'thumbs'), index: {}, autoStart: true };
    try {
      for (const w of windows) w.client.start();
      const first = await Promise.all(windows.map((w) => w.client.request('init', init)));
      assert.deepEqual(first.map((p) => p.state).sort(), ['indexing', 'waiting'], 'one writer');
      const waiting = windows[first.findIndex((p) => p.state === 'waiting')];
      const writer = windows[first.findIndex((p) => p.state === 'indexing')];
      for (let i = 0; i < 600; i++) {
        const shown = waiting.states.at(-1);
        if (writer.states.some((p) => p.state === 'idle') && shown?.photos === photos.length) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const done = writer.states.filter((p) => p.state === 'idle').pop()!;
      assert.equal(done.computed + done.reused, photos.length);
      const shown = waiting.states.at(-1)!;
      assert.deepEqual([shown.state, shown.photos, shown.computed], ['waiting', photos.length, 0], 'the other window reads what the writer stored');
    } finally {
      await Promise.all(windows.map((w) => w.client.stop()));
    }
  });

  it('Rebuild recomputes its own album only: another album sharing the store keeps its faces and thumbnails', async function () {
    this.timeout(120_000);
    const [albumA, albumB] = [path.join(work, 'a'), path.join(work, 'b')];
    mkdirSync(albumA);
    mkdirSync(albumB);
    await makeAlbum(albumA, 3);
    // Other contents in B (its photos are the first ones turned): nothing shared with A.
    for (const p of await makeAlbum(path.join(work, 'b-src'), 3)) {
      const sharp = (await import('sharp')).default;
      await sharp(path.join(work, 'b-src', p.rel)).flop().jpeg().toFile(path.join(albumB, path.basename(p.rel)));
    }
    const global = path.join(work, 'global');
    let states: ServiceProgress[] = [];
    const client = new IndexServiceClient({ workerPath: WORKER, onEvent: (e) => e.event === 'progress' && states.push(e.progress) });
    const idle = async () => {
      for (let i = 0; i < 600 && !states.some((p) => p.state === 'idle'); i++) await new Promise((r) => setTimeout(r, 100));
      return states.filter((p) => p.state === 'idle').pop()!;
    };
    const b = await AlbumIndex.open(path.join(global, 'index'), [{ path: albumB }]);
    await b.update();
    // Thumbnails are named by content: <sha256>-<size>.jpg.
    const thumbB = path.join(global, 'thumbs', `${b.all()[0].hash}-200.jpg`);
    await b.close();
    mkdirSync(path.dirname(thumbB), { recursive: true });
    writeFileSync(thumbB, 'x');
    let thumbA = '';
    client.start();
    try {
      await client.request('init', { roots: [{ path: albumA }], cacheDir: path.join(global, 'index'), thumbsDir: path.join(global, 'thumbs'), index: {}, autoStart: true });
      assert.equal((await idle()).computed, 3);
      const [made] = await client.request('thumbs', { keys: [path.join(albumA, readdirSync(albumA, { recursive: true }).map(String).find((f) => f.endsWith('.jpg'))!)], size: 200 });
      thumbA = made.file!;
      assert.ok(existsSync(thumbA));
      states = [];
      await client.request('rebuild', {});
      const rebuilt = await idle();
      assert.deepEqual([rebuilt.computed, rebuilt.reused, rebuilt.photos], [3, 0, 3]);
    } finally {
      await client.stop();
    }
    const again = await AlbumIndex.open(path.join(global, 'index'), [{ path: albumB }]);
    const s = await again.update();
    assert.deepEqual([s.computed, s.reused], [0, 3], 'the other album\'s faces are kept');
    await again.close();
    assert.ok(existsSync(thumbB), 'the other album\'s thumbnails are kept');
    assert.ok(!existsSync(thumbA), 'its own thumbnails are made again');
  });

  it('copies the faces of an older per-workspace cache into the shared store and removes it', async function () {
    this.timeout(120_000);
    const album = path.join(work, 'album');
    mkdirSync(album);
    const photos = await makeAlbum(album, 5);
    // An older Glimpse's cache: schema 1, faces keyed by content alone.
    const old = path.join(work, 'workspace', 'index-mobilefacenet');
    let index = await AlbumIndex.open(old, [{ path: album }]);
    await index.update();
    const faces = index.faceCount;
    await index.close();
    const file = path.join(old, CACHE_FILE);
    for (const r of await sql(file, "SELECT key FROM keyv WHERE key LIKE 'glimpse:h:%'")) await sql(file, 'UPDATE keyv SET key = ? WHERE key = ?', r.key.slice(0, 'glimpse:h:'.length + 64), r.key);
    await sql(file, 'UPDATE keyv SET value = ? WHERE key = ?', '{"value":1}', 'glimpse:m:schema');
    copyFileSync(file, path.join(work, 'old.copy')); // the same old cache, opened in place below

    // A window of this version on that workspace: the old cache's faces are copied, then it is removed.
    const global = path.join(work, 'global');
    const notes: string[] = [];
    let done!: (p: ServiceProgress) => void;
    const idle = new Promise<ServiceProgress>((r) => (done = r));
    const client = new IndexServiceClient({
      workerPath: WORKER,
      onEvent: (e) => {
        if (e.event === 'note') notes.push(e.message);
        if (e.event === 'progress' && (e.progress.state === 'idle' || e.progress.state === 'error')) done(e.progress);
      },
    });
    client.start();
    await client.request('init', { roots: [{ path: album }], cacheDir: path.join(global, 'index'), thumbsDir: path.join(global, 'thumbs'), legacy: [old], index: {}, autoStart: true });
    const p = await idle;
    await client.stop();
    assert.deepEqual([p.computed, p.reused, p.faces], [0, photos.length, faces]);
    assert.match(notes.join('\n'), new RegExp(`Copied ${photos.length} photos' faces from this workspace's old face cache`));
    assert.ok(!existsSync(old), 'the old cache is removed');

    // The same old cache named with --cache: upgraded in place, faces kept.
    mkdirSync(old);
    copyFileSync(path.join(work, 'old.copy'), file);
    const upgraded: string[] = [];
    index = await AlbumIndex.open(old, [{ path: album }], {}, (m) => upgraded.push(m));
    const u = await index.update();
    assert.match(upgraded.join('\n'), /older Glimpse \(schema 1\); its faces are kept/);
    assert.deepEqual([u.computed, u.reused], [0, photos.length]);
    await index.close();
  });
});
