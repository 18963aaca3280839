/** Quarter turns of RGB images, and mapping detections found on a turned copy back to the original. */
import type { DetectedFace, Point, RgbImage } from './types';

/** Turns `img` clockwise by `turns` quarter turns (1, 2 or 3). */
export function rotateRgb(img: RgbImage, turns: 1 | 2 | 3): RgbImage {
  const { width: w, height: h, data } = img;
  const ow = turns === 2 ? w : h;
  const oh = turns === 2 ? h : w;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let nx: number, ny: number;
      if (turns === 1) { nx = h - 1 - y; ny = x; }
      else if (turns === 2) { nx = w - 1 - x; ny = h - 1 - y; }
      else { nx = y; ny = w - 1 - x; }
      const s = (y * w + x) * 3;
      const d = (ny * ow + nx) * 3;
      out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    }
  }
  return { data: out, width: ow, height: oh };
}

/** Maps a point of the copy turned by `turns` back to the original of size w x h (continuous coordinates). */
export function unrotatePoint(p: Point, turns: 1 | 2 | 3, w: number, h: number): Point {
  const [x, y] = p;
  if (turns === 1) return [y, h - x];
  if (turns === 2) return [w - x, h - y];
  return [w - y, x];
}

export function unrotateFace(f: DetectedFace, turns: 1 | 2 | 3, w: number, h: number): DetectedFace {
  const [bx, by, bw, bh] = f.box;
  const corners = [[bx, by], [bx + bw, by + bh]].map((p) => unrotatePoint(p as Point, turns, w, h));
  const x1 = Math.min(corners[0][0], corners[1][0]);
  const y1 = Math.min(corners[0][1], corners[1][1]);
  const x2 = Math.max(corners[0][0], corners[1][0]);
  const y2 = Math.max(corners[0][1], corners[1][1]);
  return { box: [x1, y1, x2 - x1, y2 - y1], score: f.score, landmarks: f.landmarks.map((p) => unrotatePoint(p, turns, w, h)) };
}

/** `img` with `pad` pixels added on every side, repeating the edge pixels. */
export function padRgb(img: RgbImage, pad: number): RgbImage {
  const { width: w, height: h, data } = img;
  const ow = w + 2 * pad, oh = h + 2 * pad;
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.max(0, y - pad));
    for (let x = 0; x < ow; x++) {
      const sx = Math.min(w - 1, Math.max(0, x - pad));
      const s = (sy * w + sx) * 3, d = (y * ow + x) * 3;
      out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    }
  }
  return { data: out, width: ow, height: oh };
}

export function shiftFace(f: DetectedFace, dx: number, dy: number): DetectedFace {
  return { box: [f.box[0] + dx, f.box[1] + dy, f.box[2], f.box[3]], score: f.score, landmarks: f.landmarks.map(([x, y]) => [x + dx, y + dy] as Point) };
}
