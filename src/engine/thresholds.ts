/**
 * Default match thresholds (cosine similarity) per embedder, calibrated with `npm run eval` on
 * the dev set: the similarity that 1 in 1,000 pairs of photos of two different people reach.
 */
import type { EmbedderId } from './embed';

const THRESHOLDS: Record<EmbedderId, number> = {
  mobilefacenet: 0.46,
  dlib: 0.92,
};

export function defaultThreshold(id: EmbedderId): number {
  return THRESHOLDS[id];
}
