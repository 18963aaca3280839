/**
 * The reference cases of the TFLite -> ONNX conversion: which inputs each model is run on, how
 * those inputs are built, and how the reference outputs are stored. Shared by the script that
 * runs the original TFLite models (scripts/tflite-reference.ts) and by the parity test, so both
 * build bit-identical inputs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURE_DIR = path.join('test', 'fixtures', 'tflite-reference');
export const EXPO_ASSETS = 'package/android/src/main/assets';

export interface ModelRef {
  /** Glimpse's model id (models/<id>.onnx). */
  id: string;
  tflite: string;
}

export const TFLITE_MODELS = {
  pnet: { id: 'mtcnn-pnet', tflite: 'pnet.tflite' },
  rnet: { id: 'mtcnn-rnet', tflite: 'rnet.tflite' },
  onet: { id: 'mtcnn-onet', tflite: 'onet.tflite' },
  mobilefacenet: { id: 'mobilefacenet', tflite: 'MobileFaceNet.tflite' },
} satisfies Record<string, ModelRef>;

/** One batch item: a photo region resized to the input size, or seeded noise in [-1, 1). */
export type ItemSpec =
  | { photo: string; crop: [left: number, top: number, width: number, height: number] }
  | { seed: number };

export interface CaseSpec {
  id: string;
  model: keyof typeof TFLITE_MODELS;
  /** TFLite input shape; the expo MTCNN models read [N, W, H, 3] (transposed), MobileFaceNet [N, H, W, 3]. */
  shape: [number, number, number, number];
  transposed: boolean;
  items: ItemSpec[];
  /** Keep every `stride`-th output value only (for outputs too large to store whole). */
  sampleStride?: number;
}

// LFW-style 250x250 photos: the face sits around the centre.
const FACE = [65, 65, 120, 120] as [number, number, number, number];
const A = 'Abel_Pacheco/1.jpg';
const B = 'Amber_Tamblyn/1.jpg';
const C = 'Angela_Bassett/1.jpg';

export const CASES: CaseSpec[] = [
  { id: 'pnet-photo-64x48', model: 'pnet', shape: [1, 64, 48, 3], transposed: true, items: [{ photo: A, crop: [0, 31, 250, 188] }] },
  { id: 'pnet-noise-37x53', model: 'pnet', shape: [1, 37, 53, 3], transposed: true, items: [{ seed: 1 }] },
  { id: 'pnet-photo-35x24', model: 'pnet', shape: [1, 35, 24, 3], transposed: true, items: [{ photo: C, crop: [0, 40, 250, 171] }] },
  // The file's own size, with no change to the model: outputs are sampled to stay small.
  { id: 'pnet-native-noise', model: 'pnet', shape: [1, 1280, 960, 3], transposed: true, items: [{ seed: 2 }], sampleStride: 301 },
  { id: 'rnet-native-photo', model: 'rnet', shape: [1, 24, 24, 3], transposed: true, items: [{ photo: C, crop: FACE }] },
  { id: 'rnet-batch4', model: 'rnet', shape: [4, 24, 24, 3], transposed: true, items: [{ photo: A, crop: FACE }, { photo: B, crop: FACE }, { seed: 3 }, { seed: 4 }] },
  { id: 'onet-native-photo', model: 'onet', shape: [1, 48, 48, 3], transposed: true, items: [{ photo: C, crop: FACE }] },
  { id: 'onet-batch3', model: 'onet', shape: [3, 48, 48, 3], transposed: true, items: [{ photo: A, crop: FACE }, { photo: B, crop: FACE }, { seed: 5 }] },
  { id: 'mobilefacenet-native', model: 'mobilefacenet', shape: [2, 112, 112, 3], transposed: false, items: [{ photo: A, crop: FACE }, { photo: B, crop: FACE }] },
  { id: 'mobilefacenet-batch1', model: 'mobilefacenet', shape: [1, 112, 112, 3], transposed: false, items: [{ photo: A, crop: FACE }] },
  { id: 'mobilefacenet-batch3', model: 'mobilefacenet', shape: [3, 112, 112, 3], transposed: false, items: [{ photo: B, crop: FACE }, { seed: 6 }, { photo: A, crop: FACE }] },
];

/** Key of a stored photo region at one size. */
export function pixelKey(item: Extract<ItemSpec, { photo: string }>, width: number, height: number): string {
  return `${item.photo}@${item.crop.join(',')}->${width}x${height}`;
}

/** mulberry32: a small seeded generator, the same in the script and the test. */
export function noise(seed: number, count: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = 2 * u - 1;
  }
  return out;
}

/** Image size (width, height) of one item of a case. */
export function itemSize(c: CaseSpec): { width: number; height: number } {
  const [, d1, d2] = c.shape;
  return c.transposed ? { width: d1, height: d2 } : { width: d2, height: d1 };
}

/**
 * The float input of a case: RGB (x - 127.5) / 128 as the expo Kotlin code normalises, laid
 * out as the model reads it. `pixels` maps pixelKey -> RGB bytes, row-major [height][width][3].
 */
export function caseInput(c: CaseSpec, pixels: Map<string, Uint8Array>): Float32Array {
  const [n, d1, d2, ch] = c.shape;
  if (c.items.length !== n) throw new Error(`${c.id}: ${c.items.length} items for batch ${n}`);
  const per = d1 * d2 * ch;
  const out = new Float32Array(n * per);
  const { width, height } = itemSize(c);
  c.items.forEach((item, b) => {
    const dst = out.subarray(b * per, (b + 1) * per);
    if ('seed' in item) {
      dst.set(noise(item.seed, per));
      return;
    }
    const px = pixels.get(pixelKey(item, width, height));
    if (!px || px.length !== width * height * 3) throw new Error(`${c.id}: pixels of ${item.photo} missing`);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = c.transposed ? (x * height + y) * 3 : (y * width + x) * 3;
        const s = (y * width + x) * 3;
        for (let k = 0; k < 3; k++) dst[o + k] = (px[s + k] - 127.5) / 128;
      }
    }
  });
  return out;
}

export interface StoredTensor {
  shape: number[];
  /** Every `stride`-th value of the row-major tensor, from index 0 (1: all). */
  stride: number;
  /** float32 little-endian, base64. */
  data: string;
}

export interface CaseFixture {
  id: string;
  model: string;
  shape: number[];
  outputs: Record<string, StoredTensor>;
}

export interface FixtureIndex {
  note: string;
  runtime: Record<string, string>;
  sources: Record<string, string>;
  /** pixelKey -> RGB bytes (base64). */
  pixels: Record<string, string>;
  cases: CaseFixture[];
}

export function encodeFloats(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function decodeFloats(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(4 * i);
  return out;
}

export function sample(a: Float32Array, stride: number): Float32Array {
  if (stride === 1) return a;
  return Float32Array.from({ length: Math.ceil(a.length / stride) }, (_, k) => a[k * stride]);
}

export function readFixtureIndex(root: string): FixtureIndex {
  return JSON.parse(readFileSync(path.join(root, FIXTURE_DIR, 'reference.json'), 'utf8')) as FixtureIndex;
}

export function fixturePixels(index: FixtureIndex): Map<string, Uint8Array> {
  return new Map(Object.entries(index.pixels).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]));
}
