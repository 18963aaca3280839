/**
 * The face pipeline: decode -> detect -> align -> embed, composed from separate units
 * (insightface's shape). Tests, benchmarks, the CLI and the extension's indexing worker all
 * run this same code.
 */
import { decodeFile, decodeImage, type DecodedImage, type DecodeOptions } from './decode';
import { EMBEDDER_MODELS, loadEmbedder, type Embedder, type EmbedderId } from './embed';
import { Mtcnn } from './mtcnn';
import { resizeNative } from './resample';
import { padRgb, rotateRgb, shiftFace, unrotateFace } from './rotate';
import type { RuntimeOptions } from './runtime';
import type { BoxXYWH, DetectedFace, Face, PhotoFaces, RgbImage, StageTimes } from './types';

export const ENGINE_VERSION = '1';

/** Long side of the copy the no-face retries run on. */
const RETRY_SIDE = 800;
/** A photo whose best face scores below this may be turned (on the dev set, 1 subject face in 1,257 scores below 0.95). */
const CONFIDENT = 0.98;

export type DetectorId = 'mtcnn';

export interface EngineOptions extends RuntimeOptions, DecodeOptions {
  detector?: DetectorId;
  embedder?: EmbedderId;
  /** Smallest face searched for, in working pixels (default 20). */
  minFace?: number;
  /** Retry photos without a face turned by 90, 270 and 180 degrees (default true). */
  tryRotations?: boolean;
  /** Retry photos without a face on a copy with a border, for faces that fill the frame (default true). */
  tryPadding?: boolean;
}

export interface FaceDetector {
  readonly id: DetectorId;
  detect(img: RgbImage): Promise<DetectedFace[]>;
}

/**
 * Names the detector, the embedder and the engine version, without loading any model: faces made
 * by different systems are not comparable, so the cache records it and recomputes on a change.
 */
export function systemId(opts: Pick<EngineOptions, 'detector' | 'embedder'> = {}): string {
  return `glimpse-engine-${ENGINE_VERSION} ${opts.detector ?? 'mtcnn'} ${EMBEDDER_MODELS[opts.embedder ?? 'mobilefacenet']}`;
}

async function loadDetector(id: DetectorId, opts: EngineOptions): Promise<FaceDetector> {
  const mtcnn = await Mtcnn.load(opts);
  const minFace = opts.minFace ?? 20;
  return { id, detect: (img) => mtcnn.detect(img, { minFace }) };
}

/** The part of a box inside the photo (a face at the edge is detected whole, drawn clipped). */
function clampBox([x, y, w, h]: BoxXYWH, width: number, height: number): BoxXYWH {
  const x1 = Math.max(0, x), y1 = Math.max(0, y);
  const x2 = Math.min(width, x + w), y2 = Math.min(height, y + h);
  return [x1, y1, Math.max(0, x2 - x1), Math.max(0, y2 - y1)];
}

export class FaceEngine {
  private constructor(
    readonly detector: FaceDetector,
    readonly embedder: Embedder,
    private readonly opts: EngineOptions,
  ) {}

  static async create(opts: EngineOptions = {}): Promise<FaceEngine> {
    const [detector, embedder] = await Promise.all([loadDetector(opts.detector ?? 'mtcnn', opts), loadEmbedder(opts.embedder ?? 'mobilefacenet', opts)]);
    return new FaceEngine(detector, embedder, opts);
  }

  get system(): string {
    return systemId(this.opts);
  }

  /** Faces of a decoded photo: detection with the rotation retry, then embeddings; coordinates in the photo's pixels. */
  async analyze(decoded: DecodedImage, times?: StageTimes): Promise<PhotoFaces> {
    const img = decoded.pixels;
    const t0 = performance.now();
    let found = await this.detector.detect(img);
    const top = Math.max(0, ...found.map((f) => f.score));
    if (top < CONFIDENT) {
      // No face, or only doubtful ones: perhaps the photo is turned. A turned copy replaces what was
      // found only when it is clearly more confident.
      const again = await this.retry(img, found.length > 0);
      const againTop = Math.max(0, ...again.map((f) => f.score));
      if (againTop > top + 0.02 && (found.length === 0 || againTop >= CONFIDENT)) found = again;
    }
    if (times) times.detect += performance.now() - t0;
    // Alignment warps any in-plane angle, so faces found on a turned copy embed from the original pixels.
    const embeddings = await this.embedder.embed(img, found, times);
    const k = 1 / decoded.scale;
    const faces: Face[] = found.map((f, i) => ({
      box: clampBox([f.box[0] * k, f.box[1] * k, f.box[2] * k, f.box[3] * k], decoded.width, decoded.height),
      score: f.score,
      landmarks: f.landmarks.map(([x, y]) => [x * k, y * k]),
      embedding: embeddings[i],
    }));
    return { width: decoded.width, height: decoded.height, faces };
  }

  get decodeOptions(): DecodeOptions {
    const { maxBytes, maxPixels, maxSide } = this.opts;
    return { maxBytes, maxPixels, maxSide };
  }

  /**
   * Second chances for a photo where no face (or only doubtful ones) was found, on a copy at most RETRY_SIDE pixels long
   * (a photo without faces, the common case, pays little for them):
   * - a border of repeated edge pixels, for a face that fills the frame (a profile picture, a tight
   *   crop) and so has no context around it for the detector;
   * - the photo turned by 90, 180 and 270 degrees, for scans and exports that lost their EXIF
   *   orientation.
   * Every variant is tried and the most confident kept: MTCNN also finds some faces lying on their
   * side or upside down, but with lower scores and misplaced landmarks (measured on face-api's demo
   * faces: the right orientation scores 0.999+, the wrong ones 0.73-0.96).
   */
  private async retry(img: RgbImage, turnsOnly: boolean): Promise<DetectedFace[]> {
    const k = Math.min(1, RETRY_SIDE / Math.max(img.width, img.height));
    const small = k < 1 ? await resizeNative(img, Math.round(img.width * k), Math.round(img.height * k)) : img;
    const sx = img.width / small.width, sy = img.height / small.height;
    const back = (f: DetectedFace): DetectedFace => ({
      box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy],
      score: f.score,
      landmarks: f.landmarks.map(([x, y]) => [x * sx, y * sy]),
    });
    const tries: (() => Promise<DetectedFace[]>)[] = [];
    if ((this.opts.tryPadding ?? true) && !turnsOnly) {
      const pad = Math.round(0.3 * Math.max(small.width, small.height));
      tries.push(async () => (await this.detector.detect(padRgb(small, pad))).map((f) => shiftFace(f, -pad, -pad)));
    }
    if (this.opts.tryRotations ?? true) {
      for (const turns of [1, 2, 3] as const) {
        tries.push(async () => (await this.detector.detect(rotateRgb(small, turns))).map((f) => unrotateFace(f, turns, small.width, small.height)));
      }
    }
    let best: DetectedFace[] = [];
    let bestScore = 0;
    for (const attempt of tries) {
      const found = await attempt();
      const top = Math.max(0, ...found.map((f) => f.score));
      if (top > bestScore) {
        best = found;
        bestScore = top;
      }
    }
    return best.map(back);
  }

  async analyzeFile(file: string): Promise<PhotoFaces> {
    return this.analyze(await decodeFile(file, this.decodeOptions));
  }

  async analyzeBuffer(buf: Buffer): Promise<PhotoFaces> {
    return this.analyze(await decodeImage(buf, this.decodeOptions));
  }
}
