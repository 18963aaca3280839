/**
 * face-api's own FaceRecognitionNet (the dlib ResNet) running on tfjs's wasm backend: the
 * reference the ONNX conversion is held to. Weights are read by face-api from its package
 * folder; the wasm binaries come from @tensorflow/tfjs-backend-wasm's own dist folder, so
 * nothing is fetched.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';

export const FACE_API_DIR = path.dirname(require.resolve('@vladmandic/face-api/package.json'));
export const FACE_API_MODEL_DIR = path.join(FACE_API_DIR, 'model');

let ready: Promise<faceapi.FaceRecognitionNet> | undefined;

/** Loads face-api's recognition net once, on the wasm backend (tfjs's CPU backend is far slower). */
export function faceApiRecognitionNet(): Promise<faceapi.FaceRecognitionNet> {
  ready ??= (async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    const net = new faceapi.FaceRecognitionNet();
    await net.loadFromDisk(FACE_API_MODEL_DIR);
    return net;
  })();
  return ready;
}

export function tfjsBackend(): string {
  return tf.getBackend();
}

/**
 * face-api's computeFaceDescriptor on `n` RGB 150x150 images packed as float32 [n, 150, 150, 3]
 * (values 0..255). At exactly 150x150 face-api neither pads nor resizes, so it sees these pixels.
 */
export async function faceApiDescriptors(batch: Float32Array, n: number): Promise<Float32Array[]> {
  const net = await faceApiRecognitionNet();
  const px = 150 * 150 * 3;
  if (batch.length !== n * px) throw new Error(`expected ${n} x 150x150x3 values, got ${batch.length}`);
  const tensors = Array.from({ length: n }, (_, i) => tf.tensor3d(batch.subarray(i * px, (i + 1) * px), [150, 150, 3], 'float32'));
  try {
    // Tensors from the same tfjs instance face-api uses; its declared Tensor type is its own copy.
    const out = await net.computeFaceDescriptor(tensors as unknown as faceapi.TNetInput);
    return Array.isArray(out) ? out : [out];
  } finally {
    tensors.forEach((t) => t.dispose());
  }
}
