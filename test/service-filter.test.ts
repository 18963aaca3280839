import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IndexServiceClient } from '../src/engine/index/client';
import type { ServiceProgress } from '../src/engine/index/service-protocol';
import { DECODABLE_EXTENSIONS } from '../src/engine/files';
import { demoPhoto, ROOT } from './helpers/photos';

/** A change of the filter settings reaches the running index service (dist/index-worker.js): no restart, no recompute. */
describe('index service: the album filter changes without a restart', function () {
  let work: string;
  let album: string;
  let client: IndexServiceClient;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'glimpse-service-filter-'));
    album = path.join(work, 'album');
    mkdirSync(path.join(album, 'keep'), { recursive: true });
    mkdirSync(path.join(album, 'extra'), { recursive: true });
    await sharp(demoPhoto('sample1.jpg')).resize(800).jpeg().toFile(path.join(album, 'keep', 'one.jpg'));
    await sharp(demoPhoto('sample2.jpg')).resize(800).jpeg().toFile(path.join(album, 'extra', 'two.jpg'));
    copyFileSync(path.join(album, 'keep', 'one.jpg'), path.join(album, 'extra', 'copy.jpg'));
    client = new IndexServiceClient({ workerPath: path.join(ROOT, 'dist', 'index-worker.js'), onEvent: () => undefined });
    client.start();
  });
  after(async () => {
    await client.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** The service's progress once the work a request started is done. */
  async function settled(): Promise<ServiceProgress> {
    for (;;) {
      const p = await client.request('stats', {});
      if (p.state === 'idle') return p;
      assert.notEqual(p.state, 'error');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function photos(): Promise<string[]> {
    const q = await client.request('query', { file: path.join(album, 'keep', 'one.jpg') });
    const { items } = await client.request('search', { embedding: q.faces[0].embedding, floor: -1 });
    return items.map((i) => i.rel).sort();
  }

  it('indexes by the filter it was started with and names the formats it decodes', async () => {
    const init = await client.request('init', { roots: [{ path: album }], cacheDir: path.join(work, 'cache'), thumbsDir: path.join(work, 'thumbs'), index: { exclude: ['extra/**'] }, autoStart: true });
    assert.deepEqual(init.extensions, DECODABLE_EXTENSIONS);
    const p = await settled();
    assert.deepEqual([p.photos, p.computed], [1, 1]);
    assert.deepEqual(await photos(), ['keep/one.jpg']);
  });

  it('takes in the photos a new filter lets in, computing only new contents', async () => {
    await client.request('setFilter', { exclude: [] });
    const p = await settled();
    assert.deepEqual([p.photos, p.computed, p.reused], [3, 1, 2], 'two.jpg is new; copy.jpg has one.jpg\'s bytes');
    assert.deepEqual(await photos(), ['extra/copy.jpg', 'extra/two.jpg', 'keep/one.jpg']);
  });

  it('lets go at once of the photos a new filter leaves out, and takes them back without computing them again', async () => {
    await client.request('setFilter', { include: ['extra'] });
    assert.deepEqual(await photos(), ['extra/copy.jpg', 'extra/two.jpg'], 'gone from searches as soon as the filter changed');
    let p = await settled();
    assert.deepEqual([p.photos, p.computed], [2, 0]);
    await client.request('setFilter', { exclude: ['**/copy.jpg'] });
    p = await settled();
    assert.deepEqual([p.photos, p.computed, p.reused], [2, 0, 2], 'keep/one.jpg comes back from its cache record');
    assert.deepEqual(await photos(), ['extra/two.jpg', 'keep/one.jpg']);
  });
});
