/**
 * Resampling of RGB images into the float tensors the networks take. One separable filter
 * serves both directions: a triangle (bilinear) kernel widened by the scale factor when
 * shrinking, so a downscale averages over each output pixel's whole footprint instead of
 * point-sampling it (point sampling aliases, and MTCNN's crops lose accuracy with it).
 */
import sharp from 'sharp';
import type { RgbImage } from './types';

interface Taps {
  /** first source index of each output sample */
  start: Int32Array;
  /** number of taps of each output sample */
  count: Int32Array;
  /** weights, `maxTaps` per output sample */
  weights: Float32Array;
  maxTaps: number;
}

/** Filter taps along one axis for the source interval [origin, origin + length) mapped onto `out` samples. */
function taps(origin: number, length: number, out: number): Taps {
  const ratio = length / out;
  const scale = Math.max(1, ratio);
  const support = scale; // triangle of half-width 1, stretched by the scale
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(out);
  const count = new Int32Array(out);
  const weights = new Float32Array(out * maxTaps);
  for (let i = 0; i < out; i++) {
    const centre = origin + (i + 0.5) * ratio;
    const lo = Math.floor(centre - support);
    const hi = Math.ceil(centre + support);
    let n = 0;
    let sum = 0;
    for (let j = lo; j < hi && n < maxTaps; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / scale));
      if (n === 0 && w === 0) continue;
      if (n === 0) start[i] = j;
      weights[i * maxTaps + n] = w;
      sum += w;
      n++;
    }
    count[i] = n;
    if (sum > 0) for (let k = 0; k < n; k++) weights[i * maxTaps + k] /= sum;
  }
  return { start, count, weights, maxTaps };
}

export type Layout = 'hwc' | 'whc';

export interface Normalisation {
  mean: number;
  /** multiplier applied after subtracting the mean */
  scale: number;
}

export const MINUS_ONE_TO_ONE: Normalisation = { mean: 127.5, scale: 1 / 128 };

/**
 * Samples the region [x0, x0 + rw) x [y0, y0 + rh) of `src` (continuous pixel coordinates; pixels
 * outside the image are black) into `dw` x `dh` samples, normalised, written to `out` at `offset`
 * in layout `hwc` (row-major) or `whc` (transposed: the column index first, as MTCNN's expo models
 * take their input).
 */
export function resampleRegion(
  src: RgbImage,
  x0: number,
  y0: number,
  rw: number,
  rh: number,
  dw: number,
  dh: number,
  out: Float32Array,
  offset: number,
  layout: Layout,
  norm: Normalisation = MINUS_ONE_TO_ONE,
): void {
  const tx = taps(x0, rw, dw);
  const ty = taps(y0, rh, dh);
  // Rows of the source that any output row touches; horizontal pass first, one row at a time.
  let rowLo = Infinity;
  let rowHi = -Infinity;
  for (let i = 0; i < dh; i++) {
    rowLo = Math.min(rowLo, ty.start[i]);
    rowHi = Math.max(rowHi, ty.start[i] + ty.count[i]);
  }
  const { data, width, height } = src;
  const rows = Math.max(0, rowHi - rowLo);
  const horiz = new Float32Array(rows * dw * 3);
  for (let r = 0; r < rows; r++) {
    const y = rowLo + r;
    if (y < 0 || y >= height) continue; // black row
    const rowBase = y * width * 3;
    const outBase = r * dw * 3;
    for (let i = 0; i < dw; i++) {
      let a = 0;
      let b = 0;
      let c = 0;
      const s = tx.start[i];
      const n = tx.count[i];
      const wBase = i * tx.maxTaps;
      for (let k = 0; k < n; k++) {
        const x = s + k;
        if (x < 0 || x >= width) continue;
        const w = tx.weights[wBase + k];
        const p = rowBase + x * 3;
        a += data[p] * w;
        b += data[p + 1] * w;
        c += data[p + 2] * w;
      }
      const q = outBase + i * 3;
      horiz[q] = a;
      horiz[q + 1] = b;
      horiz[q + 2] = c;
    }
  }
  const { mean, scale } = norm;
  for (let j = 0; j < dh; j++) {
    const s = ty.start[j] - rowLo;
    const n = ty.count[j];
    const wBase = j * ty.maxTaps;
    for (let i = 0; i < dw; i++) {
      let a = 0;
      let b = 0;
      let c = 0;
      for (let k = 0; k < n; k++) {
        const w = ty.weights[wBase + k];
        const p = ((s + k) * dw + i) * 3;
        a += horiz[p] * w;
        b += horiz[p + 1] * w;
        c += horiz[p + 2] * w;
      }
      const q = offset + (layout === 'hwc' ? j * dw + i : i * dh + j) * 3;
      out[q] = (a - mean) * scale;
      out[q + 1] = (b - mean) * scale;
      out[q + 2] = (c - mean) * scale;
    }
  }
}

/**
 * Resizes with libvips on libuv's thread pool: much faster than JavaScript for large reductions
 * (it shrinks by box filter, then reduces with the kernel), and it runs beside the networks.
 */
export async function resizeNative(src: RgbImage, dw: number, dh: number): Promise<RgbImage> {
  const { data, info } = await sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } })
    .resize(dw, dh, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Normalises an RGB image into `out` in the given layout (no resampling). */
export function toTensor(src: RgbImage, out: Float32Array, offset: number, layout: Layout, norm: Normalisation = MINUS_ONE_TO_ONE): void {
  const { data, width: w, height: h } = src;
  const { mean, scale } = norm;
  if (layout === 'hwc') {
    for (let i = 0; i < w * h * 3; i++) out[offset + i] = (data[i] - mean) * scale;
    return;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, d = offset + (x * h + y) * 3;
      out[d] = (data[s] - mean) * scale;
      out[d + 1] = (data[s + 1] - mean) * scale;
      out[d + 2] = (data[s + 2] - mean) * scale;
    }
  }
}
