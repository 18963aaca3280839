/**
 * Face alignment: the least-squares similarity transform (rotation, uniform scale, translation)
 * that carries the five detected landmarks onto a template, and the warp that samples the face
 * chip through it. All coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1).
 */
import type { Layout, Normalisation } from './resample';
import type { Point, RgbImage } from './types';

/**
 * insightface's ArcFace 112x112 template (left eye, right eye, nose, left and right mouth corner),
 * given in OpenCV's convention where pixel centres are integers; +0.5 puts it in ours.
 */
export const ARCFACE_112: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
].map(([x, y]) => [x + 0.5, y + 0.5] as Point);

/** z -> a z + b over complex numbers: a = scale * e^(i angle). */
export interface Similarity {
  ar: number;
  ai: number;
  br: number;
  bi: number;
}

/** Least-squares similarity from `src` onto `dst` (closed form; reflections excluded by construction). */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n !== dst.length || n < 2) throw new Error('estimateSimilarity needs two or more point pairs');
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i][0]; sy += src[i][1]; dx += dst[i][0]; dy += dst[i][1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  // a = sum (d_i - d̄) * conj(s_i - s̄) / sum |s_i - s̄|^2
  let nr = 0, ni = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const pr = src[i][0] - sx, pi = src[i][1] - sy;
    const qr = dst[i][0] - dx, qi = dst[i][1] - dy;
    nr += qr * pr + qi * pi;
    ni += qi * pr - qr * pi;
    den += pr * pr + pi * pi;
  }
  if (den === 0) throw new Error('estimateSimilarity: source points coincide');
  const ar = nr / den, ai = ni / den;
  return { ar, ai, br: dx - (ar * sx - ai * sy), bi: dy - (ar * sy + ai * sx) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.ar * p[0] - t.ai * p[1] + t.br, t.ar * p[1] + t.ai * p[0] + t.bi];
}

export function invertSimilarity(t: Similarity): Similarity {
  const m = t.ar * t.ar + t.ai * t.ai;
  const ar = t.ar / m, ai = -t.ai / m;
  // x = (y - b) / a = a' y - a' b
  return { ar, ai, br: -(ar * t.br - ai * t.bi), bi: -(ar * t.bi + ai * t.br) };
}

/**
 * Samples a `size` x `size` chip through `toChip` (image -> chip) into `out` at `offset`, RGB,
 * normalised, row-major (`hwc`) or column-major (`whc`, as MTCNN's networks take it). Bilinear, with k x k samples per chip pixel where the chip shrinks the face
 * (k = ceil(image pixels per chip pixel)), so that large faces do not alias. Outside the image is black.
 */
export function warpChip(
  img: RgbImage,
  toChip: Similarity,
  size: number,
  out: Float32Array,
  offset: number,
  norm: Normalisation,
  layout: Layout = 'hwc',
): void {
  const inv = invertSimilarity(toChip);
  const stretch = Math.hypot(inv.ar, inv.ai);
  const k = Math.min(8, Math.max(1, Math.ceil(stretch - 1e-6)));
  const { data, width, height } = img;
  const inK2 = 1 / (k * k);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      let r = 0, g = 0, b = 0;
      for (let sv = 0; sv < k; sv++) {
        const cy = v + (sv + 0.5) / k;
        for (let su = 0; su < k; su++) {
          const cx = u + (su + 0.5) / k;
          // image position, then to sample coordinates where pixel centres are integers
          const x = inv.ar * cx - inv.ai * cy + inv.br - 0.5;
          const y = inv.ar * cy + inv.ai * cx + inv.bi - 0.5;
          const x0 = Math.floor(x), y0 = Math.floor(y);
          const fx = x - x0, fy = y - y0;
          for (let j = 0; j < 2; j++) {
            const yy = y0 + j;
            if (yy < 0 || yy >= height) continue;
            const wy = j === 0 ? 1 - fy : fy;
            for (let i = 0; i < 2; i++) {
              const xx = x0 + i;
              if (xx < 0 || xx >= width) continue;
              const w = wy * (i === 0 ? 1 - fx : fx);
              const p = (yy * width + xx) * 3;
              r += data[p] * w;
              g += data[p + 1] * w;
              b += data[p + 2] * w;
            }
          }
        }
      }
      const q = offset + (layout === 'hwc' ? v * size + u : u * size + v) * 3;
      out[q] = (r * inK2 - norm.mean) * norm.scale;
      out[q + 1] = (g * inK2 - norm.mean) * norm.scale;
      out[q + 2] = (b * inK2 - norm.mean) * norm.scale;
    }
  }
}
