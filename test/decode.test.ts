import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeFile, decodeImage, ImageError } from '../src/engine/decode';
import { writeBadFiles } from './helpers/bad-files';
import { demoPhoto } from './helpers/photos';

describe('decode', () => {
  const jpeg = readFileSync(demoPhoto('sample1.jpg'));
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'glimpse-decode-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes a real photo to RGB at its size', async () => {
    const d = await decodeImage(jpeg);
    assert.equal(d.width, 1920);
    assert.equal(d.height, 1280);
    assert.equal(d.pixels.data.length, d.pixels.width * d.pixels.height * 3);
    assert.equal(d.scale, 1);
  });

  it('reduces large photos to the working size and reports the scale', async () => {
    const d = await decodeImage(jpeg, { maxSide: 960 });
    assert.equal(d.width, 1920);
    assert.equal(d.pixels.width, 960);
    assert.equal(d.pixels.height, 640);
    assert.equal(d.scale, 0.5);
  });

  it('applies EXIF orientation: a photo stored sideways with orientation 6 decodes upright', async () => {
    const upright = await sharp(jpeg).resize(480).raw().toBuffer({ resolveWithObject: true });
    // Store the pixels turned 90 degrees counter-clockwise and tag them "rotate 90 clockwise to display".
    const sideways = await sharp(jpeg).resize(480).rotate(270).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(sideways).metadata();
    assert.equal(meta.width, 320, 'stored sideways');
    const d = await decodeImage(sideways);
    assert.equal(d.width, 480);
    assert.equal(d.height, 320);
    let diff = 0;
    for (let i = 0; i < upright.data.length; i++) diff += Math.abs(upright.data[i] - d.pixels.data[i]);
    assert.ok(diff / upright.data.length < 6, `mean abs difference ${diff / upright.data.length}`);
  });

  it('expands greyscale and flattens alpha to three channels', async () => {
    const grey = await sharp(jpeg).resize(200).greyscale().png().toBuffer();
    const rgba = await sharp(jpeg).resize(200).ensureAlpha(0.5).png().toBuffer();
    for (const b of [grey, rgba]) {
      const d = await decodeImage(b);
      assert.equal(d.pixels.data.length, d.pixels.width * d.pixels.height * 3);
    }
  });

  it('takes the first frame of an animation', async () => {
    const frame = (c: string) => sharp({ create: { width: 40, height: 30, channels: 3, background: c } }).raw().toBuffer();
    const frames = Buffer.concat([await frame('#ff0000'), await frame('#0000ff')]);
    const gif = await sharp(frames, { raw: { width: 40, height: 60, channels: 3, pageHeight: 30 } }).gif().toBuffer();
    const d = await decodeImage(gif);
    assert.deepEqual([d.width, d.height], [40, 30]);
    assert.ok(d.pixels.data[0] > 200 && d.pixels.data[2] < 50, 'first frame is red');
  });

  it('gives each bad input its own typed error with a readable message', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const bad = writeBadFiles(dir, jpeg, maxBytes);
    for (const [name, kind] of bad) {
      await assert.rejects(decodeFile(path.join(dir, name), { maxBytes }), (e: unknown) => {
        assert.ok(e instanceof ImageError, `${name}: ${String(e)}`);
        assert.equal(e.kind, kind, `${name}: ${e.message}`);
        assert.ok(e.message.length > 10);
        return true;
      });
    }
  });

  it('reports a missing file as unreadable', async () => {
    await assert.rejects(decodeFile(path.join(dir, 'nope.jpg')), (e: unknown) => e instanceof ImageError && e.kind === 'unreadable');
  });
});
