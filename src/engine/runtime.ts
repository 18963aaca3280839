/** Loading ONNX models with onnxruntime-node, and finding the models folder. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

export { ort };

export interface RuntimeOptions {
  /** Folder holding the .onnx files and manifest.json (default: found from this file upward). */
  modelsDir?: string;
  /** onnxruntime intra-op threads per session (default 1: measured fastest on a busy 2-core machine, and it leaves a core to the editor). */
  threads?: number;
}

/** models/ next to dist/ (bundles) or three levels up from out/src/engine (tests). */
export function findModelsDir(start = __dirname): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, 'models', 'manifest.json');
    if (existsSync(candidate)) return path.dirname(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no models/manifest.json above ${start}; run "npm run build" to build the models`);
    dir = parent;
  }
}

/**
 * `variableShapes`: the model runs on inputs of ever-changing size (P-Net's pyramid): onnxruntime's
 * memory arena would keep the largest allocation of every shape, so it is turned off for it.
 */
export async function loadModel(file: string, opts: RuntimeOptions = {}, variableShapes = false): Promise<ort.InferenceSession> {
  const dir = opts.modelsDir ?? findModelsDir();
  const full = path.join(dir, file);
  if (!existsSync(full)) throw new Error(`model ${full} is missing; run "npm run build" to build it`);
  return ort.InferenceSession.create(full, {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: !variableShapes,
    enableMemPattern: !variableShapes,
    // Spinning worker threads burn the core that decoding and the editor need, and collapse
    // when the machine is busy (measured: 4x slower with 2 spinning threads under load).
    extra: { session: { intra_op: { allow_spinning: process.env.GLIMPSE_ORT_SPIN ?? '0' } } },
  });
}

export function tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function floats(t: ort.Tensor | undefined, name: string): Float32Array {
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`model output ${name} missing or not float32`);
  return t.data;
}
