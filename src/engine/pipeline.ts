/**
 * The face pipeline: decode -> detect -> align -> embed, composed from separate units
 * (insightface's shape). Tests, benchmarks, the CLI and the extension's indexing worker all
 * run this same code.
 */
import { decodeFile, decodeImage, decodeOptionsOf, type DecodedImage, type DecodeOptions } from './decode';
import { EMBEDDER_MODELS, loadEmbedder, type Embedder, type EmbedderId } from './embed';
import { MediaPipeFaceDetector } from './mediapipe';
import { Mtcnn, ONet, type TurnedSquare } from './mtcnn';
import { resizeNative } from './resample';
import { padRgb, rotateRgb, shiftFace, unrotateFace } from './rotate';
import type { RuntimeOptions } from './runtime';
import type { BoxXYWH, DetectedFace, Face, PhotoFaces, RgbImage, StageTimes } from './types';

export const ENGINE_VERSION = '1';

/** Long side of the copy the no-face retries run on. */
const RETRY_SIDE = 800;
/**
 * A face scoring below this is doubtful; a photo whose faces are mostly doubtful may be turned
 * (on the dev set, 95% of faces score above it, and 20 photos in 1,286 have mostly doubtful faces).
 */
const CONFIDENT = 0.98;

function confidentCount(faces: readonly DetectedFace[]): number {
  return faces.filter((f) => f.score >= CONFIDENT).length;
}

/** More confident faces, or as many and a higher best score (by at least `margin`). */
function better(a: readonly DetectedFace[], b: readonly DetectedFace[], margin = 0): boolean {
  const ca = confidentCount(a), cb = confidentCount(b);
  if (ca !== cb) return ca > cb;
  const top = (x: readonly DetectedFace[]) => Math.max(0, ...x.map((f) => f.score));
  return top(a) > top(b) + margin;
}

export type DetectorId = 'mediapipe' | 'mtcnn';

/**
 * MediaPipe + O-Net by default: on the dev set it meets every accuracy bar (detect 1.000, LFW
 * 0.9967, mAP 0.982) at 1.7x MTCNN's speed on small photos and 4.5x on 12-megapixel ones, with a
 * third of the memory and fewer false faces in crowds; MTCNN alone is a little more accurate on
 * the dev set (mAP 0.985) and stays selectable.
 */
export const DEFAULT_DETECTOR: DetectorId = 'mediapipe';

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
  return `glimpse-engine-${ENGINE_VERSION} ${opts.detector ?? DEFAULT_DETECTOR} ${EMBEDDER_MODELS[opts.embedder ?? 'mobilefacenet']}`;
}

/** O-Net's probability below which a MediaPipe detection is dropped (false faces in crowds and textures). */
const ONET_FLOOR = 0.3;

/**
 * MediaPipe's full-range detector finds the faces (fast, tiled on large photos, and at any angle);
 * MTCNN's O-Net, run on a square around each face turned upright by the angle of MediaPipe's
 * keypoints, then again on the square it regresses, gives the five landmarks the ArcFace alignment needs (MediaPipe's own keypoints have
 * the mouth's centre, not its corners, and align worse).
 */
async function loadMediaPipe(opts: EngineOptions): Promise<FaceDetector> {
  const [mp, onet] = await Promise.all([MediaPipeFaceDetector.load(opts), ONet.load(opts)]);
  return {
    id: 'mediapipe',
    async detect(img) {
      const found = await mp.detect(img);
      if (!found.length) return [];
      let squares: TurnedSquare[] = found.map(({ box: [x, y, w, h], landmarks }) => {
        // MediaPipe's keypoints: subject's right eye, left eye, nose tip, mouth centre, ...
        const [re, le, , mouth] = landmarks;
        const dx = mouth[0] - (re[0] + le[0]) / 2, dy = mouth[1] - (re[1] + le[1]) / 2;
        const angle = Math.atan2(-dx, dy); // 0 when the mouth is straight below the eyes
        const n = Math.hypot(dx, dy) || 1;
        // The square O-Net was trained on sits higher (towards the forehead) and a little wider than MediaPipe's box.
        return { cx: x + w / 2 - (0.07 * w * dx) / n, cy: y + h / 2 - (0.07 * w * dy) / n, side: 1.107 * w, angle };
      });
      // (Asking O-Net both ways up to catch upside-down faces, whose MediaPipe keypoints are placed
      // as if upright, was tried: O-Net often prefers the wrong way, dev-set mAP fell from 0.984 to
      // 0.943. Upside-down photos are left to the photo-level retry on turned copies.)
      let refined = await onet.runWarped(img, squares);
      squares = refined.map((r) => r.square);
      refined = await onet.runWarped(img, squares);
      // The score is O-Net's: near 1 for a face it sees upright and whole, which is what the no-face
      // retries compare; a detection O-Net rejects outright is a texture, not a face.
      return found.flatMap((f, i) => (refined[i].prob >= ONET_FLOOR ? [{ box: f.box, score: refined[i].prob, landmarks: refined[i].landmarks }] : []));
    },
  };
}

async function loadDetector(id: DetectorId, opts: EngineOptions): Promise<FaceDetector> {
  if (id === 'mediapipe') return loadMediaPipe(opts);
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
    const [detector, embedder] = await Promise.all([loadDetector(opts.detector ?? DEFAULT_DETECTOR, opts), loadEmbedder(opts.embedder ?? 'mobilefacenet', opts)]);
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
    if (found.length === 0 || 2 * confidentCount(found) < found.length) {
      // No face, or mostly doubtful ones: perhaps the photo is turned. A turned copy replaces what
      // was found only when it is clearly better.
      const again = await this.retry(img, found.length > 0);
      if (better(again, found, 0.02)) found = again;
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
    return decodeOptionsOf(this.opts);
  }

  /**
   * Second chances for a photo where no face (or mostly doubtful ones) was found, on a copy at
   * most RETRY_SIDE pixels long (a photo without faces, the common case, pays little for them):
   * - a border of repeated edge pixels, for a face that fills the frame (a profile picture, a tight
   *   crop) and so has no context around it for the detector;
   * - the photo turned by 90, 180 and 270 degrees, for scans and exports that lost their EXIF
   *   orientation.
   * Every variant is tried and the one with the most confident faces kept: the detectors also find
   * some faces lying on their side or upside down, but with lower scores and misplaced landmarks
   * (measured on face-api's demo faces: the right orientation scores 0.99+, the wrong ones 0.5-0.96).
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
    for (const attempt of tries) {
      const found = await attempt();
      if (better(found, best)) best = found;
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
