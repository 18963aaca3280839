import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { decodeFile, decodeImage } from '../src/engine/decode';
import { FaceEngine } from '../src/engine/pipeline';
import { dot } from '../src/engine/search';
import { defaultThreshold } from '../src/engine/thresholds';
import type { BoxXYWH, Face, PhotoFaces } from '../src/engine/types';
import { demoPhoto, EVAL_DIR, evalPhoto, requireEvalSet } from './helpers/photos';

const iou = (a: BoxXYWH, b: BoxXYWH) => {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a[2] * a[3] + b[2] * b[3] - w * h);
};
const centreInside = (face: BoxXYWH, region: BoxXYWH) => {
  const cx = face[0] + face[2] / 2, cy = face[1] + face[3] / 2;
  return cx > region[0] && cx < region[0] + region[2] && cy > region[1] && cy < region[1] + region[3];
};
const best = (faces: Face[], q: Float32Array) => faces.map((f) => dot(q, f.embedding)).reduce((a, b) => Math.max(a, b), -1);

describe('face engine (default: MediaPipe + O-Net landmarks + MobileFaceNet)', function () {
  let engine: FaceEngine;
  let sample1: PhotoFaces;
  const threshold = defaultThreshold('mobilefacenet');
  before(async () => {
    engine = await FaceEngine.create();
    sample1 = await engine.analyzeFile(demoPhoto('sample1.jpg'));
  });

  it('names its detector and embedder', () => {
    assert.match(engine.system, /mediapipe/);
    assert.match(engine.system, /mobilefacenet/);
  });

  it("finds the three faces of face-api's demo photo, with landmarks inside each box", () => {
    // Face squares picked by hand in the 1920x1280 photo.
    const expected: BoxXYWH[] = [[380, 335, 250, 250], [790, 385, 280, 280], [1430, 185, 280, 280]];
    assert.equal(sample1.width, 1920);
    assert.equal(sample1.faces.length, 3);
    for (const region of expected) {
      const f = sample1.faces.find((x) => centreInside(x.box, region));
      assert.ok(f, `a face in [${region}]`);
      assert.ok(f.score > 0.9);
      assert.equal(f.landmarks.length, 5);
      for (const [x, y] of f.landmarks) assert.ok(centreInside([x, y, 0, 0], f.box), `landmark ${x},${y} in ${f.box}`);
      // eyes above the mouth corners, left eye left of the right eye
      assert.ok(f.landmarks[0][0] < f.landmarks[1][0]);
      assert.ok(f.landmarks[0][1] < f.landmarks[3][1] && f.landmarks[1][1] < f.landmarks[4][1]);
      assert.equal(f.embedding.length, 192);
      assert.ok(Math.abs(dot(f.embedding, f.embedding) - 1) < 1e-4, 'L2-normalised');
    }
  });

  it('matches a face with a smaller, tilted, re-encoded copy of itself and not with the others', async () => {
    const [a, b, c] = [...sample1.faces].sort((p, q) => p.box[0] - q.box[0]);
    const copy = await sharp(demoPhoto('sample1.jpg')).resize(900).rotate(12, { background: '#808080' }).jpeg({ quality: 70 }).toBuffer();
    const other = await engine.analyzeBuffer(copy);
    assert.ok(other.faces.length >= 3);
    for (const f of [a, b, c]) assert.ok(best(other.faces, f.embedding) > threshold + 0.2, 'each face is found again');
    assert.ok(dot(a.embedding, b.embedding) < threshold);
    assert.ok(dot(a.embedding, c.embedding) < threshold);
    assert.ok(dot(b.embedding, c.embedding) < threshold);
  });

  it('finds a face in a photo turned by 90, 180 or 270 degrees without EXIF, in the turned photo\'s coordinates', async () => {
    const outcomes: string[] = [];
    for (const u of sample1.faces) {
      const [x, y, w, h] = u.box.map(Math.round);
      const region = { left: x - w, top: y - Math.round(h / 2), width: 3 * w, height: 2 * h };
      const crop = await sharp(demoPhoto('sample1.jpg')).extract(region).png().toBuffer();
      // The face inside the crop, upright.
      const fb: BoxXYWH = [u.box[0] - region.left, u.box[1] - region.top, u.box[2], u.box[3]];
      const W = region.width, H = region.height;
      // Where that box lands when the crop is turned clockwise by 90, 180, 270 degrees.
      const turnedBox: Record<number, BoxXYWH> = {
        90: [H - fb[1] - fb[3], fb[0], fb[3], fb[2]],
        180: [W - fb[0] - fb[2], H - fb[1] - fb[3], fb[2], fb[3]],
        270: [fb[1], W - fb[0] - fb[2], fb[3], fb[2]],
      };
      for (const angle of [90, 180, 270]) {
        const r = await engine.analyzeBuffer(await sharp(crop).rotate(angle).png().toBuffer());
        const ok = r.faces.length === 1 && iou(r.faces[0].box, turnedBox[angle]) > 0.5 && dot(r.faces[0].embedding, u.embedding) > threshold + 0.3;
        outcomes.push(`${ok ? 'ok' : 'MISSED'} face at ${fb.map(Math.round)} turned ${angle}: ${r.faces.length} face(s)${r.faces[0] ? `, similarity ${dot(r.faces[0].embedding, u.embedding).toFixed(2)}` : ''}`);
      }
    }
    // One case in nine is known to fail: a face upside down that O-Net still scores as confident.
    assert.ok(outcomes.filter((o) => o.startsWith('ok')).length >= 8, outcomes.join('\n'));
  });

  it('honours EXIF orientation: boxes are in the upright photo', async () => {
    const stored = await sharp(demoPhoto('sample1.jpg')).rotate(270).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const r = await engine.analyze(await decodeImage(stored));
    assert.deepEqual([r.width, r.height], [1920, 1280]);
    for (const u of sample1.faces) assert.ok(r.faces.some((f) => iou(f.box, u.box) > 0.7));
  });

  it('finds no face in a photo without one', async () => {
    const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#6a8fb0' } }).jpeg().toBuffer();
    assert.equal((await engine.analyzeBuffer(blank)).faces.length, 0);
  });

  describe('on the labelled photos', function () {
    before(function () {
      requireEvalSet(this);
    });

    it('finds the subject face of LFW photos near the centre', async () => {
      const people = JSON.parse(readFileSync(evalPhoto('manifest.json'), 'utf8')) as { file: string; source: string; kind: string }[];
      const lfw = people.filter((p) => p.kind === 'single' && /lfw/.test(p.source + p.file) || p.source === 'braun-steven/dfi-tensorflow').slice(0, 25);
      assert.ok(lfw.length === 25);
      for (const p of lfw) {
        const r = await engine.analyzeFile(evalPhoto(p.file));
        assert.ok(r.faces.some((f) => centreInside([125, 125, 0, 0], [f.box[0] - 10, f.box[1] - 10, f.box[2] + 20, f.box[3] + 20])), `${p.file}: a face over the centre`);
      }
    });

    it('scores known LFW pairs of one person above the threshold and of two people below it', async () => {
      const pairs = JSON.parse(readFileSync(evalPhoto('lfw_pairs.json'), 'utf8')) as { a: string; b: string; same: boolean }[];
      const subject = async (file: string) => {
        const r = await engine.analyzeFile(evalPhoto(file));
        return r.faces.reduce((a, f) => (Math.hypot(f.box[0] + f.box[2] / 2 - 125, f.box[1] + f.box[3] / 2 - 125) < Math.hypot(a.box[0] + a.box[2] / 2 - 125, a.box[1] + a.box[3] / 2 - 125) ? f : a));
      };
      const chosen = [...pairs.filter((p) => p.same).slice(0, 10), ...pairs.filter((p) => !p.same).slice(0, 10)];
      for (const p of chosen) {
        const s = dot((await subject(p.a)).embedding, (await subject(p.b)).embedding);
        if (p.same) assert.ok(s > threshold, `${p.a} ~ ${p.b}: ${s}`);
        else assert.ok(s < threshold, `${p.a} vs ${p.b}: ${s}`);
      }
    });

    it('finds the 29 people of the 1927 Solvay conference photo', async () => {
      const r = await engine.analyzeFile(evalPhoto('groups/human_solvay1927.jpg'));
      assert.ok(r.faces.length >= 28 && r.faces.length <= 30, `${r.faces.length} faces`);
    });

    it('finds faces that fill the whole frame (tight 150 px crops)', async () => {
      for (const f of ['people/bbt_bernadette/5.png', 'people/bbt_howard/5.png', 'people/bbt_stuart/4.png']) {
        assert.equal((await engine.analyzeFile(evalPhoto(f))).faces.length, 1, f);
      }
    });
  });
  if (!EVAL_DIR) it('labelled-photo tests skipped: ../shared/eval is not on this machine');
});

describe('face engine with MTCNN (selectable detector)', function () {
  let engine: FaceEngine;
  before(async () => (engine = await FaceEngine.create({ detector: 'mtcnn' })));

  it("finds the three faces of face-api's demo photo", async () => {
    const r = await engine.analyzeFile(demoPhoto('sample1.jpg'));
    assert.match(engine.system, /mtcnn/);
    assert.equal(r.faces.length, 3);
    for (const f of r.faces) assert.equal(f.landmarks.length, 5);
  });

  it('finds faces that fill the whole frame only with the retry on a bordered copy', async function () {
    requireEvalSet(this);
    for (const f of ['people/bbt_bernadette/5.png', 'people/bbt_howard/5.png']) {
      const d = await decodeFile(evalPhoto(f));
      assert.equal((await engine.detector.detect(d.pixels)).length, 0, `${f}: the plain detector misses it`);
      assert.equal((await engine.analyze(d)).faces.length, 1, `${f}: found with the retry`);
    }
  });
});
