import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DECODABLE_EXTENSIONS } from '../src/engine/files';
import { demoPhoto, ROOT } from './helpers/photos';

const run = promisify(execFile);
const CLI = path.join(ROOT, 'dist', 'cli.js');

interface FacesJson {
  system: string;
  files: Record<string, { width?: number; height?: number; error?: string; faces: { box: number[]; score: number; landmarks: number[][]; embedding: number[] }[] }>;
}

describe('CLI (dist/cli.js)', function () {
  let album: string;
  before(() => {
    album = mkdtempSync(path.join(tmpdir(), 'glimpse-cli-'));
    mkdirSync(path.join(album, 'Trip', 'Day 2'), { recursive: true });
    copyFileSync(demoPhoto('sample1.jpg'), path.join(album, 'IMG_0001.JPG'));
    copyFileSync(demoPhoto('sample2.jpg'), path.join(album, 'Trip', 'beach.Jpeg'));
    copyFileSync(demoPhoto('sample1.jpg'), path.join(album, 'Trip', 'Day 2', 'again.jpg'));
    writeFileSync(path.join(album, 'Trip', 'broken.jpg'), readFileSync(demoPhoto('sample3.jpg')).subarray(0, 5000));
    writeFileSync(path.join(album, 'notes.txt'), 'not a photo');
    // The prebuilt sharp reads AVIF but not HEIC: such files are left out rather than failed.
    writeFileSync(path.join(album, 'phone.HEIC'), Buffer.alloc(64));
  });
  after(() => rmSync(album, { recursive: true, force: true }));

  it('faces --json lists every image of the folder, any extension case, with boxes, landmarks and embeddings', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'faces', album, '--json', '--quiet'], { maxBuffer: 64 << 20 });
    const out = JSON.parse(stdout) as FacesJson;
    assert.match(out.system, /mediapipe.*mobilefacenet/);
    const heic = DECODABLE_EXTENSIONS.includes('heic') ? ['phone.HEIC'] : [];
    assert.deepEqual(Object.keys(out.files).sort(), ['IMG_0001.JPG', 'Trip/Day 2/again.jpg', 'Trip/beach.Jpeg', 'Trip/broken.jpg', ...heic].sort());
    const photo = out.files['IMG_0001.JPG'];
    assert.equal(photo.width, 1920);
    assert.equal(photo.faces.length, 3);
    for (const f of photo.faces) {
      assert.equal(f.box.length, 4);
      assert.ok(f.box[0] >= 0 && f.box[1] >= 0 && f.box[0] + f.box[2] <= 1920 && f.box[1] + f.box[3] <= 1280);
      assert.equal(f.landmarks.length, 5);
      assert.equal(f.embedding.length, 192);
    }
    assert.deepEqual(out.files['Trip/Day 2/again.jpg'].faces.map((f) => f.box), photo.faces.map((f) => f.box), 'same photo, same result');
    assert.ok(out.files['Trip/beach.Jpeg'].faces.length >= 1);
    assert.match(out.files['Trip/broken.jpg'].error ?? '', /truncated/);
    assert.equal(out.files['Trip/broken.jpg'].faces.length, 0);
  });

  it('search finds the photos holding the query face, best first', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'search', demoPhoto('sample1.jpg'), album, '--json', '--quiet'], { maxBuffer: 64 << 20 });
    const out = JSON.parse(stdout) as { threshold: number; matches: { file: string; score: number; box: number[] }[] };
    const files = out.matches.map((m) => m.file);
    assert.deepEqual(files.slice(0, 2).sort(), ['IMG_0001.JPG', 'Trip/Day 2/again.jpg']);
    assert.ok(out.matches[0].score > 0.99);
    for (let i = 1; i < out.matches.length; i++) assert.ok(out.matches[i - 1].score >= out.matches[i].score);
    assert.ok(out.matches.every((m) => m.score >= out.threshold));
  });

  it('explains bad usage with exit code 2', async () => {
    await assert.rejects(run(process.execPath, [CLI, 'faces', path.join(album, 'missing')]), (e: { code?: number; stderr?: string }) => e.code === 2 && /no such file or folder/.test(e.stderr ?? ''));
    await assert.rejects(run(process.execPath, [CLI, 'frobnicate']), (e: { code?: number }) => e.code === 2);
  });
});
