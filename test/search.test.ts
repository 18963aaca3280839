import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cosineSearchOnnx } from '../models/convert/cosine-search';
import { FaceMatrix } from '../src/engine/search';
import { ROOT } from './helpers/photos';

function randomUnitRows(rows: number, dim: number, seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let i = 0; i < dim; i++) n += (data[r * dim + i] = rand()) ** 2;
    for (let i = 0; i < dim; i++) data[r * dim + i] /= Math.sqrt(n);
  }
  return data;
}

/** The plain definition: best row per owner by a double-precision dot product. */
function bruteForce(data: Float32Array, dim: number, owner: Int32Array, q: Float32Array, threshold: number) {
  const best = new Map<number, { row: number; score: number }>();
  for (let r = 0; r < owner.length; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += q[i] * data[r * dim + i];
    const b = best.get(owner[r]);
    if (s >= threshold && (!b || s > b.score)) best.set(owner[r], { row: r, score: s });
  }
  return [...best.entries()].map(([o, b]) => ({ owner: o, ...b })).sort((a, b) => b.score - a.score || a.owner - b.owner);
}

describe('face search (FaceMatrix)', () => {
  for (const rows of [3_000, 30_000]) {
    it(`finds the best face of each photo above the threshold, best first (${rows.toLocaleString('en-US')} faces, ${rows >= 20_000 ? 'onnxruntime Gemm' : 'JavaScript loop'})`, async () => {
      const dim = 192;
      const data = randomUnitRows(rows, dim, rows);
      const owner = Int32Array.from({ length: rows }, (_, r) => Math.floor(r / 3));
      const m = new FaceMatrix(dim, data, owner, Math.ceil(rows / 3));
      for (const qr of [0, 17, rows - 1]) {
        const q = data.slice(qr * dim, (qr + 1) * dim);
        const got = await m.search(q, 0.2);
        const want = bruteForce(data, dim, owner, q, 0.2);
        assert.deepEqual(got.map((h) => h.owner), want.map((h) => h.owner));
        assert.deepEqual(got.map((h) => h.row), want.map((h) => h.row));
        got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i].score) < 1e-5));
        assert.equal(got[0].row, qr, 'a face is most similar to itself');
        assert.ok(Math.abs(got[0].score - 1) < 1e-5);
        assert.deepEqual((await m.search(q, 0.2, 5)).map((h) => h.owner), want.slice(0, 5).map((h) => h.owner));
      }
    });
  }

  it('refuses a query of another dimension (another model)', async () => {
    const m = new FaceMatrix(4, new Float32Array(8), new Int32Array(2), 2);
    await assert.rejects(m.search(new Float32Array(3), 0), /3 dimensions, the index 4/);
  });

  it('carries the Gemm model that models/convert/cosine-search.ts writes', () => {
    const src = readFileSync(path.join(ROOT, 'src', 'engine', 'search.ts'), 'utf8');
    const inline = /COSINE_SEARCH_ONNX = '([^']+)'/.exec(src)?.[1];
    assert.equal(inline, Buffer.from(cosineSearchOnnx()).toString('base64'));
  });
});
