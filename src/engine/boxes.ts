/** Box arithmetic shared by the detectors. Boxes here are [x1, y1, x2, y2] in continuous pixel coordinates. */

export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  /** regression offsets relative to the box size: dx1, dy1, dx2, dy2 */
  reg?: [number, number, number, number];
  landmarks?: [number, number][];
}

export function area(b: Candidate): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

/** Greedy non-maximum suppression; `overlap` is IoU ('union') or intersection over the smaller box ('min'). */
export function nms(boxes: Candidate[], threshold: number, overlap: 'union' | 'min' = 'union'): Candidate[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  const removed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    if (removed[i]) continue;
    const a = sorted[i];
    kept.push(a);
    const areaA = area(a);
    for (let j = i + 1; j < sorted.length; j++) {
      if (removed[j]) continue;
      const b = sorted[j];
      const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
      const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      const denom = overlap === 'union' ? areaA + area(b) - inter : Math.min(areaA, area(b));
      if (inter / denom >= threshold) removed[j] = 1;
    }
  }
  return kept;
}

/** Applies the regression offsets (consumed). */
export function regress(b: Candidate): Candidate {
  if (!b.reg) return b;
  const w = b.x2 - b.x1;
  const h = b.y2 - b.y1;
  const [a, c, d, e] = b.reg;
  return { ...b, x1: b.x1 + a * w, y1: b.y1 + c * h, x2: b.x2 + d * w, y2: b.y2 + e * h, reg: undefined };
}

/** The square of side max(w, h) with the same centre. */
export function square(b: Candidate): Candidate {
  const w = b.x2 - b.x1;
  const h = b.y2 - b.y1;
  const side = Math.max(w, h);
  const cx = b.x1 + w / 2;
  const cy = b.y1 + h / 2;
  return { ...b, x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2 };
}
