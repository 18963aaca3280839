/**
 * The search "model": scores = query · facesᵀ as one ONNX Gemm, so that onnxruntime's optimised
 * matrix code (SIMD, threads) scores the whole album instead of a JavaScript loop (measured: 100k
 * faces, p50 25 ms in JavaScript, 9 ms with this on one thread). Its bytes are tiny and fixed, so
 * the engine carries them inline (src/engine/search.ts); test/search.test.ts checks they are what
 * this builder writes.
 */
import { GraphBuilder } from './onnx';

export function cosineSearchOnnx(): Uint8Array {
  const g = new GraphBuilder('cosine-search');
  g.input('query', ['q', 'd']);
  g.input('faces', ['n', 'd']);
  const y = g.node('Gemm', ['query', 'faces'], { transB: { i: 1 } });
  g.alias(y, 'scores');
  g.output('scores', ['q', 'n']);
  return g.toBytes({ opset: 13, producer: 'glimpse' });
}
