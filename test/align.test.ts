import assert from 'node:assert/strict';
import { ARCFACE_112, applySimilarity, estimateSimilarity, invertSimilarity, warpChip } from '../src/engine/align';
import type { Point, RgbImage } from '../src/engine/types';

describe('alignment maths', () => {
  it('recovers a known similarity transform from five points', () => {
    const truth = { ar: 1.7 * Math.cos(0.4), ai: 1.7 * Math.sin(0.4), br: 31.5, bi: -12.25 };
    const dst = ARCFACE_112.map((p) => applySimilarity(truth, p));
    const t = estimateSimilarity(ARCFACE_112, dst);
    for (const k of ['ar', 'ai', 'br', 'bi'] as const) assert.ok(Math.abs(t[k] - truth[k]) < 1e-9, `${k}: ${t[k]} vs ${truth[k]}`);
  });

  it('is the least-squares fit when the points are noisy', () => {
    const noisy: Point[] = ARCFACE_112.map(([x, y], i) => [x * 2 + (i % 2 ? 0.5 : -0.5), y * 2 + (i % 3 ? 0.3 : -0.6)]);
    const t = estimateSimilarity(ARCFACE_112, noisy);
    const err = (ar: number, ai: number, br: number, bi: number) =>
      ARCFACE_112.reduce((s, p, i) => {
        const q = applySimilarity({ ar, ai, br, bi }, p);
        return s + (q[0] - noisy[i][0]) ** 2 + (q[1] - noisy[i][1]) ** 2;
      }, 0);
    const best = err(t.ar, t.ai, t.br, t.bi);
    for (const d of [1e-3, -1e-3]) {
      assert.ok(err(t.ar + d, t.ai, t.br, t.bi) > best);
      assert.ok(err(t.ar, t.ai + d, t.br, t.bi) > best);
      assert.ok(err(t.ar, t.ai, t.br + d, t.bi) > best);
    }
  });

  it('inverts', () => {
    const t = { ar: 0.3, ai: -1.1, br: 4, bi: 9 };
    const p: Point = [17, -3];
    const q = applySimilarity(invertSimilarity(t), applySimilarity(t, p));
    assert.ok(Math.abs(q[0] - p[0]) < 1e-9 && Math.abs(q[1] - p[1]) < 1e-9);
  });

  it('warps the pixels at the landmarks onto the template positions', () => {
    // A 400x300 image, black except 9x9 squares of distinct colours centred on five "landmarks"
    // placed by a rotated, scaled template.
    const w = 400, h = 300;
    const img: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
    const place = { ar: 2.5 * Math.cos(-0.3), ai: 2.5 * Math.sin(-0.3), br: 80, bi: 60 };
    const landmarks = ARCFACE_112.map((p) => applySimilarity(place, p));
    const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]];
    landmarks.forEach(([x, y], i) => {
      for (let yy = Math.floor(y) - 4; yy <= Math.floor(y) + 4; yy++)
        for (let xx = Math.floor(x) - 4; xx <= Math.floor(x) + 4; xx++) img.data.set(colours[i], (yy * w + xx) * 3);
    });
    const chip = new Float32Array(112 * 112 * 3);
    warpChip(img, estimateSimilarity(landmarks, ARCFACE_112), 112, chip, 0, { mean: 0, scale: 1 });
    ARCFACE_112.forEach(([x, y], i) => {
      const q = (Math.floor(y) * 112 + Math.floor(x)) * 3;
      const got = [chip[q], chip[q + 1], chip[q + 2]];
      got.forEach((v, c) => assert.ok(Math.abs(v - colours[i][c]) < 40, `landmark ${i} channel ${c}: ${v}`));
    });
    // Far from the landmarks the chip stays black.
    assert.equal(chip[(5 * 112 + 5) * 3], 0);
  });
});
