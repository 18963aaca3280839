/** Running the pipeline over many files, decoding ahead while the models run. */
import path from 'node:path';
import { decodeFile, ImageError, type DecodedImage } from './decode';
import type { FaceEngine } from './pipeline';
import type { PhotoFaces } from './types';

export interface FileResult {
  /** path as given (relative to root) */
  file: string;
  result?: PhotoFaces;
  error?: { kind: string; message: string };
  /** milliseconds spent decoding and analysing */
  decodeMs: number;
  analyzeMs: number;
}

export function errorInfo(e: unknown): { kind: string; message: string } {
  if (e instanceof ImageError) return { kind: e.kind, message: e.message };
  return { kind: 'failed', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Analyses `files` (relative to `root`) in order. Decoding runs on libuv's thread pool, so up to
 * `prefetch` photos are decoded while the networks work on the current one.
 */
export async function* analyzeFiles(engine: FaceEngine, root: string, files: readonly string[], prefetch = 2): AsyncGenerator<FileResult> {
  type Pending = Promise<{ decoded?: DecodedImage; error?: unknown; ms: number }>;
  const start = (f: string): Pending => {
    const t = performance.now();
    return decodeFile(path.join(root, f), engine.decodeOptions).then(
      (decoded) => ({ decoded, ms: performance.now() - t }),
      (error: unknown) => ({ error, ms: performance.now() - t }),
    );
  };
  const queue: Pending[] = [];
  let next = 0;
  while (next < files.length && queue.length < prefetch) queue.push(start(files[next++]));
  for (let i = 0; i < files.length; i++) {
    const d = await queue.shift()!;
    if (next < files.length) queue.push(start(files[next++]));
    if (!d.decoded) {
      yield { file: files[i], error: errorInfo(d.error), decodeMs: d.ms, analyzeMs: 0 };
      continue;
    }
    const t = performance.now();
    try {
      const result = await engine.analyze(d.decoded);
      yield { file: files[i], result, decodeMs: d.ms, analyzeMs: performance.now() - t };
    } catch (e) {
      yield { file: files[i], error: errorInfo(e), decodeMs: d.ms, analyzeMs: performance.now() - t };
    }
  }
}
