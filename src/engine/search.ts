/** Cosine similarity search over L2-normalised embeddings held in one contiguous Float32Array. */
import { ort } from './runtime';

/**
 * scores = query · facesᵀ as one ONNX Gemm (written by models/convert/cosine-search.ts; the test
 * suite checks these bytes are what it writes): onnxruntime's matrix code scores large albums
 * several times faster than a JavaScript loop.
 */
const COSINE_SEARCH_ONNX = 'CAgSB2dsaW1wc2UaATEyADq+AQo0CgVxdWVyeQoFZmFjZXMSBEdlbW0aCUdlbW1fbm9kZSIER2VtbSoNCgZ0cmFuc0IYAaABAgolCgRHZW1tEgZzY29yZXMaC3Njb3Jlc19ub2RlIghJZGVudGl0eRINY29zaW5lLXNlYXJjaFoZCgVxdWVyeRIQCg4IARIKCgMSAXEKAxIBZFoZCgVmYWNlcxIQCg4IARIKCgMSAW4KAxIBZGIaCgZzY29yZXMSEAoOCAESCgoDEgFxCgMSAW5CBAoAEA0=';

/** Below this many faces the JavaScript loop answers in well under a millisecond or two. */
const ORT_MIN_ROWS = 20_000;

let scorer: Promise<ort.InferenceSession> | undefined;

function cosineScorer(): Promise<ort.InferenceSession> {
  scorer ??= ort.InferenceSession.create(Buffer.from(COSINE_SEARCH_ONNX, 'base64'), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return scorer;
}

export function dot(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[bOffset + i];
  return s;
}

export interface MatrixHit {
  /** The photo (or other owner) of the best-matching row. */
  owner: number;
  row: number;
  score: number;
}

/**
 * Every face of an album as rows of one Float32Array, each row tagged with its owner (a photo).
 * One pass of dot products answers a query; the best row per owner is kept.
 */
export class FaceMatrix {
  readonly rows: number;

  constructor(
    readonly dim: number,
    readonly data: Float32Array,
    /** owner of each row */
    readonly owner: Int32Array,
    readonly owners: number,
  ) {
    this.rows = owner.length;
    if (data.length !== this.rows * dim) throw new Error(`FaceMatrix: ${data.length} values for ${this.rows} rows of ${dim}`);
  }

  private facesTensor?: ort.Tensor;

  /** Similarity of every row to `query`. */
  async scores(query: Float32Array): Promise<Float32Array> {
    const { dim, data, rows } = this;
    if (query.length !== dim) throw new Error(`the query has ${query.length} dimensions, the index ${dim}`);
    if (rows >= ORT_MIN_ROWS) {
      const session = await cosineScorer();
      this.facesTensor ??= new ort.Tensor('float32', data, [rows, dim]);
      const out = await session.run({ query: new ort.Tensor('float32', query, [1, dim]), faces: this.facesTensor });
      return out.scores.data as Float32Array;
    }
    const scores = new Float32Array(rows);
    const d4 = dim - (dim % 4);
    for (let r = 0, off = 0; r < rows; r++, off += dim) {
      // Four partial sums: independent chains let the CPU overlap the multiply-adds.
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let i = 0;
      for (; i < d4; i += 4) {
        s0 += query[i] * data[off + i];
        s1 += query[i + 1] * data[off + i + 1];
        s2 += query[i + 2] * data[off + i + 2];
        s3 += query[i + 3] * data[off + i + 3];
      }
      for (; i < dim; i++) s0 += query[i] * data[off + i];
      scores[r] = s0 + s1 + s2 + s3;
    }
    return scores;
  }

  /** Owners with a row of similarity >= threshold, best first (ties by owner), at most `limit`. */
  async search(query: Float32Array, threshold: number, limit = Infinity): Promise<MatrixHit[]> {
    const scores = await this.scores(query);
    const best = new Float32Array(this.owners).fill(-Infinity);
    const bestRow = new Int32Array(this.owners).fill(-1);
    const { owner } = this;
    for (let r = 0; r < this.rows; r++) {
      const s = scores[r];
      if (s < threshold) continue;
      const o = owner[r];
      if (s > best[o]) {
        best[o] = s;
        bestRow[o] = r;
      }
    }
    const hits: MatrixHit[] = [];
    for (let o = 0; o < this.owners; o++) if (bestRow[o] >= 0) hits.push({ owner: o, row: bestRow[o], score: best[o] });
    hits.sort((a, b) => b.score - a.score || a.owner - b.owner);
    return hits.length > limit ? hits.slice(0, limit) : hits;
  }
}
