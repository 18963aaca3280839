/** Cosine similarity search over L2-normalised embeddings held in one contiguous Float32Array. */

export function dot(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[bOffset + i];
  return s;
}

export interface Hit {
  /** row in the matrix */
  row: number;
  score: number;
}

/**
 * Rows of `matrix` (n x dim, row-major) whose cosine similarity with `query` is at least
 * `threshold`, best first, at most `limit`.
 */
export function searchMatrix(matrix: Float32Array, dim: number, query: Float32Array, threshold: number, limit = Infinity): Hit[] {
  if (query.length !== dim) throw new Error(`query has ${query.length} dimensions, the index ${dim}`);
  const n = Math.floor(matrix.length / dim);
  const hits: Hit[] = [];
  for (let r = 0; r < n; r++) {
    const off = r * dim;
    let s = 0;
    for (let i = 0; i < dim; i++) s += query[i] * matrix[off + i];
    if (s >= threshold) hits.push({ row: r, score: s });
  }
  hits.sort((a, b) => b.score - a.score || a.row - b.row);
  return hits.length > limit ? hits.slice(0, limit) : hits;
}
