/**
 * The face pipeline: decode -> detect -> align -> embed, composed from separate units
 * (insightface's shape). Tests, benchmarks, the CLI and the extension's indexing worker all
 * run this same code.
 */
import { decodeFile, decodeImage, type DecodedImage, type DecodeOptions } from './decode';
import { loadEmbedder, type Embedder, type EmbedderId } from './embed';
import { Mtcnn } from './mtcnn';
import { rotateRgb, unrotateFace } from './rotate';
import type { RuntimeOptions } from './runtime';
import type { DetectedFace, Face, PhotoFaces, RgbImage } from './types';

export const ENGINE_VERSION = '1';

export type DetectorId = 'mtcnn';

export interface EngineOptions extends RuntimeOptions, DecodeOptions {
  detector?: DetectorId;
  embedder?: EmbedderId;
  /** Smallest face searched for, in working pixels (default 20). */
  minFace?: number;
  /** Retry photos without a face turned by 90, 270 and 180 degrees (default true). */
  tryRotations?: boolean;
}

export interface FaceDetector {
  readonly id: DetectorId;
  detect(img: RgbImage): Promise<DetectedFace[]>;
}

async function loadDetector(id: DetectorId, opts: EngineOptions): Promise<FaceDetector> {
  const mtcnn = await Mtcnn.load(opts);
  const minFace = opts.minFace ?? 20;
  return { id, detect: (img) => mtcnn.detect(img, { minFace }) };
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

  /** Names the detector, the embedder and the engine version: embeddings from different systems are not comparable. */
  get system(): string {
    return `glimpse-engine-${ENGINE_VERSION} ${this.detector.id} ${this.embedder.model}`;
  }

  /** Faces of a decoded photo: detection with the rotation retry, then embeddings; coordinates in the photo's pixels. */
  async analyze(decoded: DecodedImage): Promise<PhotoFaces> {
    const img = decoded.pixels;
    let found = await this.detector.detect(img);
    if (found.length === 0 && (this.opts.tryRotations ?? true)) {
      for (const turns of [1, 3, 2] as const) {
        const turned = await this.detector.detect(rotateRgb(img, turns));
        if (turned.length) {
          found = turned.map((f) => unrotateFace(f, turns, img.width, img.height));
          break;
        }
      }
    }
    // Alignment warps any in-plane angle, so faces found on a turned copy embed from the original pixels.
    const embeddings = await this.embedder.embed(img, found);
    const k = 1 / decoded.scale;
    const faces: Face[] = found.map((f, i) => ({
      box: [f.box[0] * k, f.box[1] * k, f.box[2] * k, f.box[3] * k],
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

  async analyzeFile(file: string): Promise<PhotoFaces> {
    return this.analyze(await decodeFile(file, this.decodeOptions));
  }

  async analyzeBuffer(buf: Buffer): Promise<PhotoFaces> {
    return this.analyze(await decodeImage(buf, this.decodeOptions));
  }
}
