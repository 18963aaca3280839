import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IndexServiceClient } from '../src/engine/index/client';
import type { ServiceEvent } from '../src/engine/index/service-protocol';
import { demoPhoto, ROOT } from './helpers/photos';

/** The index service as the extension runs it: dist/index-worker.js in a child process. */
describe('index service (child process)', function () {
  let work: string;
  let client: IndexServiceClient;
  const events: ServiceEvent[] = [];
  let idle!: Promise<void>;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'glimpse-service-'));
    const album = path.join(work, 'album');
    mkdirSync(path.join(album, 'copies'), { recursive: true });
    await sharp(demoPhoto('sample1.jpg')).resize(960).jpeg().toFile(path.join(album, 'one.jpg'));
    // Same bytes under three names: one thumbnail file serves them all.
    for (const n of ['a.jpg', 'b.jpg', 'c.jpg']) copyFileSync(path.join(album, 'one.jpg'), path.join(album, 'copies', n));
    await sharp(demoPhoto('sample2.jpg')).resize(800).jpeg().toFile(path.join(album, 'two.jpg'));
    let done!: () => void;
    idle = new Promise((r) => (done = r));
    client = new IndexServiceClient({
      workerPath: path.join(ROOT, 'dist', 'index-worker.js'),
      onEvent: (e) => {
        events.push(e);
        if (e.event === 'progress' && e.progress.state === 'idle') done();
      },
    });
    client.start();
    await client.request('init', { roots: [{ path: album }], cacheDir: path.join(work, 'cache'), thumbsDir: path.join(work, 'thumbs'), index: {}, autoStart: true });
  });
  after(async () => {
    await client.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('indexes the album in the background and reports progress', async () => {
    await idle;
    const last = events.filter((e): e is Extract<ServiceEvent, { event: 'progress' }> => e.event === 'progress').pop()!;
    assert.equal(last.progress.photos, 5);
    assert.equal(last.progress.computed, 2, 'the three copies reuse the first one\'s faces');
    // sample1 holds three faces, four times over; sample2 at least one more.
    assert.ok(last.progress.faces >= 3 * 4 + 1, `${last.progress.faces} faces`);
  });

  it('answers a query and a search with the photos of that face, best first', async () => {
    const q = await client.request('query', { file: path.join(work, 'album', 'one.jpg') });
    assert.ok(q.key, 'an album photo');
    assert.ok(q.faces[0].embedding instanceof Float32Array);
    const { items } = await client.request('search', { embedding: q.faces[0].embedding, floor: 0.46 });
    assert.deepEqual(items.slice(0, 4).map((i) => i.rel).sort(), ['copies/a.jpg', 'copies/b.jpg', 'copies/c.jpg', 'one.jpg']);
  });

  it('makes one thumbnail for photos with the same bytes asked for together, and refuses paths outside the album', async () => {
    const keys = ['a.jpg', 'b.jpg', 'c.jpg'].map((n) => path.join(work, 'album', 'copies', n));
    const made = await client.request('thumbs', { keys: [...keys, '/etc/passwd'], size: 200 });
    assert.equal(new Set(made.slice(0, 3).map((t) => t.file)).size, 1);
    for (const t of made.slice(0, 3)) assert.ok(t.file && existsSync(t.file));
    assert.equal(made[3].file, undefined);
    const meta = await sharp(made[0].file!).metadata();
    assert.equal(Math.max(meta.width!, meta.height!), 200);
    await assert.rejects(client.request('render', { key: '/etc/passwd', boxes: [], emphasis: 0, out: path.join(work, 'x.jpg') }), /not a photo of the album/);
    assert.ok(!existsSync(path.join(work, 'x.jpg')));
  });
});
