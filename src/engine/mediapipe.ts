/**
 * MediaPipe's full-range face detector (BlazeFace full-range, sparse; models/mediapipe-face-full.onnx),
 * decoded as MediaPipe's face_detection_full_range graph decodes it:
 *  - input: the image letterboxed to a square (black borders, centred), resampled to 192x192,
 *    RGB scaled to [-1, 1] (ImageToTensorCalculator: keep_aspect_ratio, BORDER_ZERO, range -1..1);
 *  - anchors (SsdAnchorsCalculator: num_layers 1, strides [4], aspect_ratios [1],
 *    interpolated_scale_aspect_ratio 0, fixed_anchor_size, offsets 0.5): one per cell of a 48x48
 *    grid, row-major, centre ((col + 0.5) / 48, (row + 0.5) / 48), width and height 1;
 *  - regressors (TensorsToDetectionsCalculator: reverse_output_order, x/y/w/h_scale 192, no
 *    exponential): centre = anchor + (dx, dy) / 192, size = (w, h) / 192, keypoint k =
 *    anchor + (kx, ky) / 192; score = sigmoid(logit clipped to +-100), kept from 0.6;
 *  - weighted non-maximum suppression (NonMaxSuppressionCalculator WEIGHTED, IoU 0.3): each
 *    top-scoring detection absorbs those overlapping it, its box and keypoints becoming their
 *    score-weighted mean; its score stays its own.
 * The full view misses small faces in large photos (a 1920 px group photo shrinks tenfold), so
 * large photos are also cut into overlapping square tiles; tile detections cut by an inner tile
 * edge are dropped (the neighbouring tile, or the full view, sees that face whole), all views
 * are merged by the same weighted NMS, and a detection lying mostly inside a stronger one (a
 * tile's view of part of a face) is dropped.
 */
import type { Candidate } from './boxes';
import { resampleRegion, resizeNative, type Normalisation } from './resample';
import { floats, loadModel, tensor, type ort, type RuntimeOptions } from './runtime';
import type { DetectedFace, RgbImage } from './types';

export const MEDIAPIPE_MODEL = 'mediapipe-face-full.onnx';

const SIZE = 192;
const GRID = 48;
const ANCHORS = GRID * GRID;
const COORDS = 16;
const KEYPOINTS = 6;
const NORM: Normalisation = { mean: 127.5, scale: 1 / 127.5 };
/** libvips shrinks faster than the JavaScript filter and runs off the main thread; worth it for reductions beyond this. */
const NATIVE_BELOW = 0.5;
/** Views per inference: per image, batch 8 is barely faster than batch 1 (3.95 vs 4.16 ms), and small batches let rendering overlap inference. */
const BATCH = 4;

/**
 * MediaPipe's keypoints, in its order. Right and left are the subject's: in an unmirrored photo
 * of a person facing the camera, rightEye is on the image's left.
 */
export const MEDIAPIPE_KEYPOINTS = ['rightEye', 'leftEye', 'noseTip', 'mouthCentre', 'rightEarTragion', 'leftEarTragion'] as const;

export interface MediaPipeOptions {
  /** Minimum face probability (default 0.6, MediaPipe's for this model; its short-range model uses 0.5). */
  threshold?: number;
  /** IoU above which detections are blended into the stronger one (default 0.3, MediaPipe's). */
  nmsThreshold?: number;
  /**
   * Drop a detection when more than this share of its box lies inside a stronger detection's box
   * (default 0.5). Tiles see parts of faces (an eye and a brow) as small faces; IoU alone keeps
   * them, being small against the whole face's box.
   */
  containment?: number;
  /** Tile photos whose short side exceeds this many pixels (default 384, twice the input; Infinity: never). */
  tileAbove?: number;
  /** Side of the tiles as a fraction of the photo's short side (default 0.5); neighbours overlap by half a tile. */
  tileFraction?: number;
  /**
   * Also look at the photo zoomed out this many times (default 2; 0: not). The full-range model is
   * made for faces that are small in the frame: it misses a face filling half of a portrait or a
   * tight crop (measured on the dev set: 3 tight 150 px crops found only at 2x, and LFW subjects
   * missed beside a found bystander), and one more 192 px inference costs about 4 ms.
   */
  zoomOut?: number;
}

/** A square window of the photo fed to the network, and which of its sides lie inside the photo. */
interface View {
  x0: number;
  y0: number;
  side: number;
  /** left, top, right, bottom: true where the side cuts through the photo (an inner tile edge). */
  inner: [boolean, boolean, boolean, boolean];
}

const ANCHOR_X = new Float32Array(ANCHORS);
const ANCHOR_Y = new Float32Array(ANCHORS);
for (let row = 0; row < GRID; row++) {
  for (let col = 0; col < GRID; col++) {
    ANCHOR_X[row * GRID + col] = (col + 0.5) / GRID;
    ANCHOR_Y[row * GRID + col] = (row + 0.5) / GRID;
  }
}

export class MediaPipeFaceDetector {
  private constructor(readonly session: ort.InferenceSession) {}

  static async load(opts: RuntimeOptions = {}): Promise<MediaPipeFaceDetector> {
    return new MediaPipeFaceDetector(await loadModel(MEDIAPIPE_MODEL, opts));
  }

  /**
   * Faces in `img`: box [x, y, w, h] in continuous pixel coordinates (pixel i spans [i, i + 1),
   * as in align.ts), score, and MediaPipe's 6 keypoints in MEDIAPIPE_KEYPOINTS order (not the
   * five ArcFace points: a landmark refiner has to supply those).
   */
  async detect(img: RgbImage, opts: MediaPipeOptions = {}): Promise<DetectedFace[]> {
    const threshold = opts.threshold ?? 0.6;
    const views = this.views(img, opts.tileAbove ?? 2 * SIZE, opts.tileFraction ?? 0.5, opts.zoomOut ?? 2);
    const copies = shrunkenCopies(img, views);
    const candidates: Candidate[] = [];
    // Rendering a batch (JavaScript) overlaps the inference of the batch before (on onnxruntime's
    // thread); the runs themselves stay one at a time, so a detection keeps to one core's worth.
    let running: Promise<void> = Promise.resolve();
    for (let start = 0; start < views.length; start += BATCH) {
      const part = views.slice(start, start + BATCH);
      const input = await render(part, copies);
      running = running.then(async () => {
        const res = await this.session.run({ input: tensor(input, [part.length, SIZE, SIZE, 3]) });
        const reg = floats(res.regressors, 'regressors');
        const cls = floats(res.classificators, 'classificators');
        part.forEach((v, i) => candidates.push(...decodeView(reg, cls, i, v, threshold)));
      });
      running.catch(() => undefined); // awaited below; keeps an early failure from going unhandled meanwhile
    }
    await running;
    const merged = dropContained(weightedNms(candidates, opts.nmsThreshold ?? 0.3), opts.containment ?? 0.5);
    return merged.map((c) => ({
      box: [c.x1, c.y1, c.x2 - c.x1, c.y2 - c.y1],
      score: c.score,
      landmarks: c.landmarks ?? [],
    }));
  }

  /** The letterboxed full view, the zoomed-out view, then tiles for large photos. */
  private views(img: RgbImage, tileAbove: number, tileFraction: number, zoomOut: number): View[] {
    const { width: w, height: h } = img;
    const long = Math.max(w, h);
    const views: View[] = [{ x0: (w - long) / 2, y0: (h - long) / 2, side: long, inner: [false, false, false, false] }];
    if (zoomOut > 1) views.push({ x0: (w - zoomOut * long) / 2, y0: (h - zoomOut * long) / 2, side: zoomOut * long, inner: [false, false, false, false] });
    const short = Math.min(w, h);
    if (short <= tileAbove) return views;
    const side = Math.max(SIZE, Math.round(short * tileFraction));
    const xs = tileStarts(w, side);
    const ys = tileStarts(h, side);
    for (const y0 of ys) {
      for (const x0 of xs) views.push({ x0, y0, side, inner: [x0 > 0, y0 > 0, x0 + side < w, y0 + side < h] });
    }
    return views;
  }
}

interface Copy {
  src: RgbImage;
  /** Its size over the photo's, per axis. */
  fx: number;
  fy: number;
}

/**
 * One copy of the photo per view size, shrunk near the views' final scale by libvips (started
 * at once, on its thread pool) when the reduction is large; the JavaScript resampler then only
 * interpolates.
 */
function shrunkenCopies(img: RgbImage, views: View[]): Map<number, Promise<Copy>> {
  const copies = new Map<number, Promise<Copy>>();
  for (const { side } of views) {
    if (copies.has(side)) continue;
    const s = SIZE / side;
    const rw = Math.max(1, Math.round(img.width * s));
    const rh = Math.max(1, Math.round(img.height * s));
    const c = s >= NATIVE_BELOW ? Promise.resolve({ src: img, fx: 1, fy: 1 }) : resizeNative(img, rw, rh).then((src) => ({ src, fx: rw / img.width, fy: rh / img.height }));
    c.catch(() => undefined); // awaited in render; keeps an early failure from going unhandled meanwhile
    copies.set(side, c);
  }
  return copies;
}

/** Each view resampled to 192x192 and normalised, packed [views, 192, 192, 3]. */
async function render(views: View[], copies: Map<number, Promise<Copy>>): Promise<Float32Array> {
  const per = SIZE * SIZE * 3;
  const input = new Float32Array(views.length * per);
  for (let i = 0; i < views.length; i++) {
    const v = views[i];
    const copy = copies.get(v.side);
    if (!copy) throw new Error(`mediapipe: no copy of the photo for views of ${v.side} px`);
    const { src, fx, fy } = await copy;
    resampleRegion(src, v.x0 * fx, v.y0 * fy, v.side * fx, v.side * fy, SIZE, SIZE, input, i * per, 'hwc', NORM);
  }
  return input;
}

/** Evenly spread starts of tiles of `side` over `length`, neighbours overlapping by at least half a tile. */
function tileStarts(length: number, side: number): number[] {
  if (length <= side) return [(length - side) / 2];
  const n = Math.ceil((length - side) / (side / 2)) + 1;
  return Array.from({ length: n }, (_, k) => Math.round((k * (length - side)) / (n - 1)));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Detections of view `i` above `threshold`, in photo pixels. */
function decodeView(reg: Float32Array, cls: Float32Array, i: number, v: View, threshold: number): Candidate[] {
  const out: Candidate[] = [];
  const minLogit = Math.log(threshold / (1 - threshold));
  // Within this margin of an inner tile edge a face may be cut off; another view sees it whole.
  const margin = 0.01 * v.side;
  const [innerL, innerT, innerR, innerB] = v.inner;
  for (let a = 0; a < ANCHORS; a++) {
    const logit = cls[i * ANCHORS + a];
    if (!(logit >= minLogit)) continue;
    const score = sigmoid(Math.min(100, Math.max(-100, logit)));
    const r = (i * ANCHORS + a) * COORDS;
    const cx = ANCHOR_X[a] + reg[r] / SIZE;
    const cy = ANCHOR_Y[a] + reg[r + 1] / SIZE;
    const hw = reg[r + 2] / SIZE / 2;
    const hh = reg[r + 3] / SIZE / 2;
    const x1 = v.x0 + (cx - hw) * v.side;
    const y1 = v.y0 + (cy - hh) * v.side;
    const x2 = v.x0 + (cx + hw) * v.side;
    const y2 = v.y0 + (cy + hh) * v.side;
    if ((innerL && x1 < v.x0 + margin) || (innerT && y1 < v.y0 + margin) || (innerR && x2 > v.x0 + v.side - margin) || (innerB && y2 > v.y0 + v.side - margin)) continue;
    const landmarks: [number, number][] = [];
    for (let k = 0; k < KEYPOINTS; k++) {
      landmarks.push([v.x0 + (ANCHOR_X[a] + reg[r + 4 + 2 * k] / SIZE) * v.side, v.y0 + (ANCHOR_Y[a] + reg[r + 5 + 2 * k] / SIZE) * v.side]);
    }
    out.push({ x1, y1, x2, y2, score, landmarks });
  }
  return out;
}

function intersection(a: Candidate, b: Candidate): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return iw > 0 && ih > 0 ? iw * ih : 0;
}

/** Keeps detections (strongest first) unless more than `share` of the box lies in a stronger kept one. */
function dropContained(sorted: Candidate[], share: number): Candidate[] {
  const kept: Candidate[] = [];
  for (const c of sorted) {
    const own = (c.x2 - c.x1) * (c.y2 - c.y1);
    if (!kept.some((k) => intersection(c, k) > share * own)) kept.push(c);
  }
  return kept;
}

function iou(a: Candidate, b: Candidate): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

/**
 * MediaPipe's weighted NMS: the strongest remaining detection and every remaining one with IoU
 * above `threshold` against it (itself included) merge into one, with the score-weighted mean
 * of their boxes and keypoints and the strongest one's score.
 */
export function weightedNms(candidates: Candidate[], threshold: number): Candidate[] {
  let rest = [...candidates].sort((a, b) => b.score - a.score);
  const out: Candidate[] = [];
  while (rest.length) {
    const top = rest[0];
    const group: Candidate[] = [];
    const left: Candidate[] = [];
    for (const c of rest) (c === top || iou(c, top) > threshold ? group : left).push(c);
    let total = 0;
    let x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    const n = top.landmarks?.length ?? 0;
    const lm = new Float64Array(2 * n);
    for (const c of group) {
      total += c.score;
      x1 += c.x1 * c.score;
      y1 += c.y1 * c.score;
      x2 += c.x2 * c.score;
      y2 += c.y2 * c.score;
      for (let k = 0; k < n; k++) {
        const p = c.landmarks?.[k] ?? [0, 0];
        lm[2 * k] += p[0] * c.score;
        lm[2 * k + 1] += p[1] * c.score;
      }
    }
    const landmarks: [number, number][] = [];
    for (let k = 0; k < n; k++) landmarks.push([lm[2 * k] / total, lm[2 * k + 1] / total]);
    out.push({ x1: x1 / total, y1: y1 / total, x2: x2 / total, y2: y2 / total, score: top.score, landmarks });
    rest = left;
  }
  return out;
}
