/**
 * Runs a TensorFlow.js graph model (model.json + weight shard, as a package ships them) in tfjs
 * itself, on the wasm backend: the reference the ONNX conversion of such a model is held to.
 * The model loads from memory and the wasm binaries come from @tensorflow/tfjs-backend-wasm's
 * own dist folder, so nothing is fetched.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let backend: Promise<void> | undefined;

/** The wasm backend, as the face-api reference uses (tfjs's CPU backend is some 20x slower here). */
export function useWasmBackend(): Promise<void> {
  backend ??= (async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  })();
  return backend;
}

export async function loadGraphModel(modelJson: Buffer, shard: Buffer): Promise<tf.GraphModel> {
  await useWasmBackend();
  const json = JSON.parse(modelJson.toString()) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    signature?: object;
  };
  if (json.weightsManifest.flatMap((g) => g.paths).length !== 1) throw new Error('expected a model with one weight shard');
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
    }),
  );
}

/** Runs `model` on one float32 NHWC input and returns the named tensors (graph node names). */
export async function runGraphModel(model: tf.GraphModel, input: Float32Array, shape: number[], outputs: string[]): Promise<{ data: Float32Array; shape: number[] }[]> {
  const x = tf.tensor(input, shape, 'float32');
  try {
    const out = model.execute(x, outputs);
    const list = Array.isArray(out) ? out : [out];
    try {
      return await Promise.all(list.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape })));
    } finally {
      list.forEach((t) => t.dispose());
    }
  } finally {
    x.dispose();
  }
}
