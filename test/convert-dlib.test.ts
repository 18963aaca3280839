/**
 * The dlib ResNet converted from face-api's weights must give what face-api gives: the built
 * models/dlib-resnet.onnx on onnxruntime against face-api's own FaceRecognitionNet on tfjs
 * (wasm backend), on real faces.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { dlibResNetToOnnx } from '../models/convert/dlib-resnet';
import { PACKAGES } from '../models/convert/packages';
import { decodeWeights, parseWeightsManifest } from '../models/convert/tfjs-weights';
import { FACE_API_DIR, FACE_API_MODEL_DIR, faceApiDescriptors, faceApiRecognitionNet } from './helpers/face-api-reference';

const root = path.resolve(__dirname, '../..');
const modelPath = path.join(root, 'models', 'dlib-resnet.onnx');
const peopleDir = path.resolve(root, '..', 'shared', 'eval', 'people');
const manifestPath = path.join(FACE_API_MODEL_DIR, 'face_recognition_model-weights_manifest.json');
const binPath = path.join(FACE_API_MODEL_DIR, 'face_recognition_model.bin');
const PX = 150 * 150 * 3;

// Hand-picked face squares (left, top, side) in face-api's 1920 px demo photos, so the test
// has real faces on a fresh clone without the shared evaluation set.
const DEMO_FACES: ReadonlyArray<readonly [string, number, number, number]> = [
  ['sample1.jpg', 380, 335, 250],
  ['sample1.jpg', 790, 385, 280],
  ['sample1.jpg', 1430, 185, 280],
  ['sample2.jpg', 1404, 136, 280],
  ['sample2.jpg', 860, 220, 260],
];

async function rgb150(file: string, crop?: { left: number; top: number; width: number; height: number }): Promise<Float32Array> {
  let img = sharp(file);
  if (crop) img = img.extract(crop);
  const { data, info } = await img.resize(150, 150).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== PX) throw new Error(`${file}: got ${info.width}x${info.height}x${info.channels}`);
  return Float32Array.from(data);
}

/** Demo faces, plus the first few people of the shared evaluation set when it is there. */
async function realFaces(): Promise<{ names: string[]; batch: Float32Array }> {
  const faces: { name: string; px: Float32Array }[] = [];
  for (const [file, left, top, side] of DEMO_FACES) {
    faces.push({ name: `${file}@${left},${top}`, px: await rgb150(path.join(FACE_API_DIR, 'demo', file), { left, top, width: side, height: side }) });
  }
  if (existsSync(peopleDir)) {
    const people = readdirSync(peopleDir).sort().filter((p) => existsSync(path.join(peopleDir, p, '1.jpg'))).slice(0, 4);
    for (const p of people) {
      const file = path.join(peopleDir, p, '1.jpg');
      const { width = 0, height = 0 } = await sharp(file).metadata();
      // LFW photos are 250 px with the face centred; the middle 60% is close to dlib's chip.
      const side = Math.round(0.6 * Math.min(width, height));
      faces.push({ name: p, px: await rgb150(file, { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side }) });
    }
  }
  const batch = new Float32Array(faces.length * PX);
  faces.forEach((f, i) => batch.set(f.px, i * PX));
  return { names: faces.map((f) => f.name), batch };
}

function compare(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; cosine: number } {
  let maxAbs = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return { maxAbs, cosine: dot / Math.sqrt(na * nb) };
}

describe('dlib ResNet converted from face-api', function () {
  this.timeout(180_000);
  let session: ort.InferenceSession;
  let faces: { names: string[]; batch: Float32Array };

  before(async () => {
    assert.ok(existsSync(modelPath), `${modelPath} is missing: run npm run models`);
    session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });
    faces = await realFaces();
  });

  after(async () => {
    await session?.release();
  });

  async function onnxDescriptors(batch: Float32Array, n: number): Promise<Float32Array> {
    const out = await session.run({ input: new ort.Tensor('float32', batch, [n, 150, 150, 3]) });
    assert.deepEqual(out.descriptor.dims, [n, 128]);
    return out.descriptor.data as Float32Array;
  }

  it('decodes the uint8-quantised weights to the same float32 bits as tfjs', async () => {
    await faceApiRecognitionNet(); // sets the tfjs backend
    const manifestJson = readFileSync(manifestPath);
    const bin = readFileSync(binPath);
    const groups = parseWeightsManifest(manifestJson);
    const ours = decodeWeights(groups, () => bin);
    const bytes = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
    const theirs = tf.io.decodeWeights(bytes, groups[0].weights as tf.io.WeightsManifestEntry[]);
    assert.equal(ours.size, Object.keys(theirs).length);
    for (const [name, w] of ours) {
      const t = theirs[name];
      assert.deepEqual(w.shape, t.shape, name);
      const expected = t.dataSync() as Float32Array;
      assert.ok(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)), `${name} differs`);
      t.dispose();
    }
  });

  it('converts deterministically, to the built model when node_modules has the pinned face-api', () => {
    const manifestJson = readFileSync(manifestPath);
    const bin = readFileSync(binPath);
    const a = dlibResNetToOnnx(manifestJson, bin);
    const b = dlibResNetToOnnx(manifestJson, bin);
    const sha = (x: Uint8Array) => createHash('sha256').update(x).digest('hex');
    assert.equal(sha(a), sha(b));
    const installed = (JSON.parse(readFileSync(path.join(FACE_API_DIR, 'package.json'), 'utf8')) as { version: string }).version;
    // The parity test below compares the built model with face-api's installed weights: only
    // meaningful when both came from the same face-api release.
    assert.equal(installed, PACKAGES.faceApi.version, 'node_modules face-api differs from the pinned model source');
    assert.equal(sha(a), sha(readFileSync(modelPath)));
  });

  it('declares input [N, 150, 150, 3] and output descriptor', () => {
    assert.deepEqual(session.inputNames, ['input']);
    assert.deepEqual(session.outputNames, ['descriptor']);
  });

  it('gives face-api\'s descriptors on real faces (max abs diff < 1e-4, cosine > 0.99999)', async () => {
    const { names, batch } = faces;
    const n = names.length;
    const ref = await faceApiDescriptors(batch, n);
    const got = await onnxDescriptors(batch, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const { maxAbs, cosine } = compare(ref[i], got.subarray(i * 128, (i + 1) * 128));
      worst = Math.max(worst, maxAbs);
      assert.ok(maxAbs < 1e-4, `${names[i]}: max abs diff ${maxAbs}`);
      assert.ok(cosine > 0.99999, `${names[i]}: cosine ${cosine}`);
    }
    // Different faces must give clearly different descriptors, or the comparison proves little.
    for (let i = 1; i < n; i++) assert.ok(compare(got.subarray(0, 128), got.subarray(i * 128, (i + 1) * 128)).cosine < 0.99, `${names[0]} vs ${names[i]}`);
    if (process.env.GLIMPSE_VERBOSE) console.log(`      ${n} faces, worst max abs diff ${worst.toExponential(2)}`);
  });

  it('runs any batch size, each face independent of its batch', async () => {
    const { batch } = faces;
    const all = await onnxDescriptors(batch, faces.names.length);
    for (const i of [0, faces.names.length - 1]) {
      const one = await onnxDescriptors(batch.slice(i * PX, (i + 1) * PX), 1);
      assert.ok(compare(one, all.subarray(i * 128, (i + 1) * 128)).maxAbs < 1e-5);
    }
  });
});
