import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { AlbumIndex } from '../src/engine/index/album';
import { tryLock } from '../src/engine/index/lock';
import { CACHE_FILE, FaceStore } from '../src/engine/index/store';
import { defaultThreshold } from '../src/engine/thresholds';
import { makeAlbum } from './helpers/album';
import { writeBadFiles } from './helpers/bad-files';
import { demoPhoto, ROOT } from './helpers/photos';

const CLI = path.join(ROOT, 'dist', 'cli.js');

describe('album index', function () {
  let work: string;
  beforeEach(() => (work = mkdtempSync(path.join(tmpdir(), 'glimpse-index-'))));
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  async function open(album: string, cache: string, notes?: string[]) {
    return AlbumIndex.open(cache, [{ path: album }], {}, (m) => notes?.push(m));
  }

  it('computes each photo once, then picks up exactly what changed: modified, added, renamed, deleted', async () => {
    const album = path.join(work, 'album');
    const cache = path.join(work, 'cache');
    mkdirSync(album);
    const photos = await makeAlbum(album, 12);
    let index = await open(album, cache);
    const first = await index.update();
    assert.equal(first.files, photos.length);
    assert.equal(first.computed, photos.length);
    assert.equal(first.failed, 0);
    assert.ok(first.faces >= photos.length);
    await index.close();

    index = await open(album, cache);
    const second = await index.update();
    assert.deepEqual([second.computed, second.reused, second.removed], [0, photos.length, 0], 'nothing to compute the second time');

    const [modified, deleted, renamed] = [photos[0], photos[5], photos[9]];
    // modified: same name, new content
    const buf = await sharp(path.join(album, modified.rel)).modulate({ brightness: 1.2 }).jpeg({ quality: 85 }).toBuffer();
    writeFileSync(path.join(album, modified.rel), buf);
    const deletedFaces = index.get(path.join(album, deleted.rel))!.faces;
    unlinkSync(path.join(album, deleted.rel));
    mkdirSync(path.join(album, 'moved'));
    renameSync(path.join(album, renamed.rel), path.join(album, 'moved', 'renamed.jpg'));
    copyFileSync(demoPhoto('sample4.jpg'), path.join(album, 'added.JPG'));

    const third = await index.update();
    assert.equal(third.files, photos.length);
    assert.equal(third.computed, 2, 'only the modified and the added photo run the models');
    assert.equal(third.reused, photos.length - 2, 'the renamed photo is reused');
    assert.equal(third.removed, 1);
    assert.ok(index.get(path.join(album, 'moved', 'renamed.jpg'))!.faces.length > 0);
    assert.equal(index.get(path.join(album, renamed.rel)), undefined);

    // The deleted photo is gone from search results; its own face no longer finds it.
    const hits = await index.search(deletedFaces[0].embedding, defaultThreshold('mobilefacenet'));
    assert.ok(hits.length > 0 || deleted.person === undefined);
    assert.ok(hits.every((h) => h.photo.rel !== deleted.rel));
    await index.close();
  });

  it('finds the other photos of a person first', async () => {
    const album = path.join(work, 'album');
    mkdirSync(album);
    const photos = await makeAlbum(album, 16);
    const index = await open(album, path.join(work, 'cache'));
    await index.update();
    const q = photos[0];
    const probe = await index.facesOf(path.join(album, q.rel));
    const query = probe.faces.reduce((a, f) => (f.box[2] * f.box[3] > a.box[2] * a.box[3] ? f : a));
    const hits = await index.search(query.embedding, defaultThreshold('mobilefacenet'));
    const same = photos.filter((p) => p.person === q.person).map((p) => p.rel).sort();
    assert.deepEqual(hits.slice(0, same.length).map((h) => h.photo.rel).sort(), same);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score);
    await index.close();
  });

  it('counts each bad file as failed with its reason, indexes the rest, and does not retry unchanged bad files', async () => {
    const album = path.join(work, 'album');
    mkdirSync(album);
    const photos = await makeAlbum(album, 4);
    const maxBytes = 3 * 1024 * 1024;
    const bad = writeBadFiles(album, readFileSync(demoPhoto('sample1.jpg')), maxBytes);
    const index = await AlbumIndex.open(path.join(work, 'cache'), [{ path: album }], { maxBytes });
    const failed = new Map<string, string>();
    const stats = await index.update({ onFailed: (p) => failed.set(p.rel, p.error!.kind) });
    assert.equal(stats.files, photos.length + bad.size);
    assert.equal(stats.failed, bad.size);
    assert.equal(stats.computed, photos.length);
    assert.deepEqual(Object.fromEntries(failed), Object.fromEntries(bad));
    const again = await index.update();
    assert.equal(again.computed, 0);
    assert.equal(again.failed, bad.size);
    await index.close();
  });

  for (const damage of ['garbage', 'truncated'] as const) {
    it(`detects a ${damage} cache file, moves it aside, says so and rebuilds`, async () => {
      const album = path.join(work, 'album');
      const cache = path.join(work, 'cache');
      mkdirSync(album);
      const photos = await makeAlbum(album, 4);
      let index = await open(album, cache);
      await index.update();
      await index.close();
      const file = path.join(cache, CACHE_FILE);
      if (damage === 'garbage') writeFileSync(file, 'this is not a database '.repeat(400));
      else {
        appendFileSync(file, Buffer.alloc(0));
        truncateSync(file, 5000);
      }
      const notes: string[] = [];
      index = await open(album, cache, notes);
      const stats = await index.update();
      assert.equal(notes.length, 1, notes.join('\n'));
      assert.match(notes[0], /moved it to .*corrupt.*rebuilding/);
      assert.equal(stats.computed, photos.length);
      assert.ok(readdirSync(cache).some((f) => f.includes('.corrupt-')));
      await index.close();
    });
  }

  it('rebuilds a cache written by an older schema, with a message', async () => {
    const album = path.join(work, 'album');
    const cache = path.join(work, 'cache');
    mkdirSync(album);
    await makeAlbum(album, 2);
    let index = await open(album, cache);
    await index.update();
    await index.close();
    // What an older Glimpse left behind: schema 0 and records of another shape.
    const store = await FaceStore.open(cache);
    await (store as unknown as { keyv: { set(k: string, v: unknown): Promise<void> } }).keyv.set('m:schema', 0);
    await store.close();
    const notes: string[] = [];
    index = await open(album, cache, notes);
    const stats = await index.update();
    assert.match(notes.join('\n'), /another version of Glimpse \(schema 0/);
    assert.equal(stats.computed, 2);
    await index.close();
  });

  it('lets one process write at a time, and takes over the lock of a dead one', () => {
    const cache = path.join(work, 'cache');
    const mine = tryLock(cache);
    assert.ok(mine);
    assert.equal(tryLock(cache), undefined, 'held by a live process');
    mine.release();
    writeFileSync(path.join(cache, 'index.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: require('node:os').hostname() }));
    const taken = tryLock(cache);
    assert.ok(taken, 'a dead owner\'s lock is taken over');
    taken.release();
    assert.ok(!existsSync(path.join(cache, 'index.lock')));
  });

  it('resumes after the indexing process is killed (SIGKILL), keeping what was finished', async function () {
    const album = path.join(work, 'album');
    const cache = path.join(work, 'cache');
    mkdirSync(album);
    // Full-size photos (about 0.3 s each), so that the kill lands in the middle.
    const photos: string[] = [];
    for (let i = 0; i < 24; i++) {
      photos.push(`big-${i}.jpg`);
      await sharp(demoPhoto(`sample${(i % 6) + 1}.jpg`)).resize(1920 - 8 * i).jpeg().toFile(path.join(album, photos[i]));
    }
    // Index in a child process; kill it once a few photos are committed.
    const child = spawn(process.execPath, [CLI, 'index', album, '--cache', cache, '--progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let progress = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        progress += d.toString();
        const m = [...progress.matchAll(/^(\d+)\/(\d+) /gm)].pop();
        if (m && Number(m[1]) >= 6) resolve();
      });
      child.on('exit', () => reject(new Error(`indexing finished before it could be killed:\n${progress}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const index = await open(album, cache);
    const resumed = await index.update();
    assert.equal(resumed.files, photos.length);
    assert.ok(resumed.reused >= 6, `finished photos kept: ${resumed.reused}`);
    assert.ok(resumed.computed > 0 && resumed.computed <= photos.length - 6, `the rest computed: ${resumed.computed}`);
    assert.equal(resumed.reused + resumed.computed, photos.length);
    await index.close();
  });
});
